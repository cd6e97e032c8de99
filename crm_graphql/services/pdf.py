"""HTML to PDF with a real headless Chromium driven by Playwright.

One browser per process, started on first use (the app's lifespan closes it); a small
pool of long-lived pages reused with `set_content` (a new page costs ~50 ms, a reused
one ~25 ms). The pool bounds concurrency: a render waits for a free page. Each render
runs under a timeout; a page that fails or hangs is closed and replaced, a browser
that died is relaunched, and every page is recycled after `recycle_after` renders so
memory stays flat.

Sandbox: the browser is launched with host-resolver rules that resolve no name and a
proxy on a closed port (`NETWORK_ARGS`: no TCP connection, no DNS lookup); each page
has its own context with JavaScript off and every request aborted (`route("**/*")`),
user-written templates lose frames, objects, links and remote images first
(`sanitize_template`, nh3), a Content-Security-Policy `<meta>` is put first in the document
(`default-src 'none'`, images and fonts only as `data:`), the document's own
`http-equiv` attributes are disabled (no meta refresh), and only `set_content` is used
(no navigation, no `file://`). Images come in as data URIs. HTML and PDF sizes are
bounded. Playwright talks to Chromium over a pipe from the event loop, so nothing here
blocks it.

Errors are `RenderError` with a code (`NO_BROWSER`, `TIMEOUT`, `TOO_LARGE`,
`RENDER_FAILED`, `BUSY`) and a message fit for a GraphQL payload error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any

import nh3

from crm_graphql.errors import ErrorCode
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.pdf")

DEBIAN_CHROMIUM = "/usr/bin/chromium"
# The browser's network layer reaches nothing, whatever a template asks for: every host
# name resolves to "not found" (no DNS lookup leaks a macro-built name), and every
# connection, loopback included (`<-loopback>` drops Chromium's implicit bypass), goes
# to a proxy on a closed port. Playwright's routing and the CSP come on top; the route
# alone let frames and preconnects open TCP connections (issue 11.4).
NETWORK_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--dns-prefetch-disable",
]
LAUNCH_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    *NETWORK_ARGS,
]
# What a user-written template (contract templates) may hold: formatting, tables,
# styles and data: images. Frames, objects, embeds, links, scripts, forms, media and
# SVG go, with their content for the ones that have any.
TEMPLATE_TAGS = frozenset(nh3.ALLOWED_TAGS) | {"style", "font", "section", "main", "address"}
TEMPLATE_DROPPED = frozenset(
    {
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "noscript",
        "svg",
        "math",
        "template",
        "video",
        "audio",
        "applet",
    }
)
TEMPLATE_ATTRIBUTES = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {
        "style",
        "class",
        "id",
        "lang",
        "dir",
        "title",
        "align",
        "valign",
        "width",
        "height",
        "colspan",
        "rowspan",
        "border",
        "cellpadding",
        "cellspacing",
        "bgcolor",
        "color",
        "face",
        "size",
    },
}


def _template_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Images only as data: URIs (the CSP would block others; they never reach the page).
    if attribute == "src" and not value.strip().lower().startswith("data:"):
        return None
    return value


def sanitize_template(html: str) -> str:
    """A user-written template's HTML with everything that can load something removed
    (nh3, the Rust ammonia sanitizer); text, formatting and styles are kept."""
    return nh3.clean(
        html,
        tags=set(TEMPLATE_TAGS),
        clean_content_tags=set(TEMPLATE_DROPPED),
        attributes=TEMPLATE_ATTRIBUTES,
        attribute_filter=_template_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        strip_comments=True,
    )


CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "img-src data:; font-src data:; style-src 'unsafe-inline'\">"
)
_HTTP_EQUIV = re.compile("http-equiv", re.IGNORECASE)
INSTALL_HINT = (
    "No Chromium browser found: install Debian's 'chromium' package "
    "(apt-get install chromium), or run 'playwright install chromium', or set "
    "CRM_CHROMIUM_PATH to a Chromium executable."
)


class RenderError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def find_chromium(configured: str = "") -> str | None:
    """The browser to launch: the setting, then Debian's, then `chromium` on PATH. None
    means "let Playwright use its own download" (checked at launch)."""
    if configured:
        return configured
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class _Slot:
    page: Any
    context: Any
    generation: int
    renders: int = 0


class Renderer:
    """A pool of Chromium pages. `render(html)` returns PDF bytes or raises RenderError."""

    def __init__(
        self,
        executable: str = "",
        pool_size: int = 2,
        timeout: float = 15.0,
        max_html_bytes: int = 2 * 1_048_576,
        max_pdf_bytes: int = 20 * 1_048_576,
        recycle_after: int = 200,
    ) -> None:
        self.executable = executable
        self.pool_size = max(1, pool_size)
        self.timeout = timeout
        self.max_html_bytes = max_html_bytes
        self.max_pdf_bytes = max_pdf_bytes
        self.recycle_after = max(1, recycle_after)
        self._playwright: Any = None
        self._browser: Any = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._free: asyncio.Queue[_Slot | None] | None = None
        self.launches = 0
        self.replaced_pages = 0

    @classmethod
    def from_settings(cls, config: Settings) -> Renderer:
        return cls(
            executable=config.chromium_path,
            pool_size=config.pdf_pool_size,
            timeout=config.pdf_timeout_seconds,
            max_html_bytes=config.pdf_max_html_bytes,
            max_pdf_bytes=config.pdf_max_pdf_bytes,
            recycle_after=config.pdf_recycle_after,
        )

    # ------------------------------------------------------------------ browser

    async def _ensure_browser(self) -> int:
        """A connected browser (launched or relaunched under the lock); its generation."""
        if self._browser is not None and self._browser.is_connected():
            return self._generation
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._generation
            if self._playwright is None:
                from playwright.async_api import async_playwright

                self._playwright = await async_playwright().start()
            old, self._browser = self._browser, None
            if old is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.close(), 5)
            args = list(LAUNCH_ARGS)
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                args.append("--no-sandbox")
            executable = find_chromium(self.executable)
            try:
                self._browser = await asyncio.wait_for(
                    self._playwright.chromium.launch(
                        executable_path=executable, args=args, headless=True
                    ),
                    max(self.timeout, 30),
                )
            except Exception as exc:
                log.error("cannot launch Chromium (%s): %s", executable, exc)
                raise RenderError(ErrorCode.NO_BROWSER, INSTALL_HINT) from exc
            self._generation += 1
            self.launches += 1
            if self._free is None:
                self._free = asyncio.Queue()
                for _ in range(self.pool_size):
                    self._free.put_nowait(None)  # a page made on first use
            return self._generation

    async def _new_slot(self) -> _Slot:
        generation = await self._ensure_browser()
        context = await self._browser.new_context(java_script_enabled=False, offline=True)
        await context.route("**/*", lambda route: route.abort())
        page = await context.new_page()
        return _Slot(page, context, generation)

    async def _discard(self, slot: _Slot | None) -> None:
        if slot is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(slot.context.close(), 5)

    async def start(self) -> None:
        await self._ensure_browser()

    async def close(self) -> None:
        async with self._lock:
            browser, self._browser = self._browser, None
            playwright, self._playwright = self._playwright, None
            self._free = None
            if browser is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.close(), 10)
            if playwright is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(playwright.stop(), 10)

    # ------------------------------------------------------------------ rendering

    async def render(self, html: str, *, time_limit: float | None = None) -> bytes:
        # `<meta http-equiv=refresh>` would navigate the page away while it prints (the
        # request is aborted, but the page is gone): no http-equiv from the document
        # (attribute names cannot be escaped, so this catches every spelling).
        document = CSP + _HTTP_EQUIV.sub("data-blocked-http-equiv", html)
        if len(document.encode("utf-8")) > self.max_html_bytes:
            raise RenderError(
                ErrorCode.TOO_LARGE, f"The document is over {self.max_html_bytes} bytes of HTML."
            )
        limit = self.timeout if time_limit is None else time_limit
        await self._ensure_browser()
        assert self._free is not None
        free = self._free
        try:
            slot = await asyncio.wait_for(free.get(), limit * 4)
        except TimeoutError:
            raise RenderError(ErrorCode.BUSY, "The PDF renderer is busy; try again.") from None
        keep: _Slot | None = None
        try:
            try:
                if slot is None or slot.generation != self._generation or slot.page.is_closed():
                    await self._discard(slot)
                    slot = None
                    async with asyncio.timeout(max(limit, 10)):
                        slot = await self._new_slot()
                async with asyncio.timeout(limit):
                    await slot.page.set_content(document, wait_until="load")
                    data: bytes = await slot.page.pdf(
                        format="A4",
                        print_background=True,
                        margin={"top": "15mm", "bottom": "15mm", "left": "15mm", "right": "15mm"},
                    )
            except TimeoutError:
                log.warning("a PDF render went over %s s; its page is replaced", limit)
                raise RenderError(
                    ErrorCode.TIMEOUT, f"Rendering the PDF took more than {limit:g} s."
                ) from None
            except RenderError:
                raise
            except Exception as exc:
                log.warning("a PDF render failed: %s", exc)
                raise RenderError(
                    ErrorCode.RENDER_FAILED, "The PDF could not be rendered."
                ) from exc
            slot.renders += 1
            if slot.renders < self.recycle_after:
                keep = slot
            if len(data) > self.max_pdf_bytes:
                raise RenderError(
                    ErrorCode.TOO_LARGE, f"The PDF is over {self.max_pdf_bytes} bytes."
                )
            return data
        finally:
            if keep is None and slot is not None:
                self.replaced_pages += 1
                # Closing a hung page must not hold the caller: do it in the background.
                task = asyncio.ensure_future(self._discard(slot))
                _BACKGROUND.add(task)
                task.add_done_callback(_BACKGROUND.discard)
            if free is self._free:
                free.put_nowait(keep)


_BACKGROUND: set[asyncio.Future[Any]] = set()
_renderer: Renderer | None = None


def get_renderer() -> Renderer:
    """The process's renderer, configured from the settings on first use."""
    global _renderer
    if _renderer is None:
        _renderer = Renderer.from_settings(settings)
    return _renderer


async def shutdown() -> None:
    """Close the process's browser (the app's lifespan calls this)."""
    global _renderer
    if _renderer is not None:
        renderer, _renderer = _renderer, None
        await renderer.close()


async def render_pdf(html: str) -> bytes:
    return await get_renderer().render(html)
