"""The PDF renderer (services/pdf.py) with a real Chromium: the sandbox (no network, no
local files), the timeout that replaces a hung page, a killed browser relaunched, size
limits, broken HTML, and a clear error when no browser is installed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import urllib.request
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crm_graphql.services.pdf import Renderer, RenderError
from tests.documents_api import pdf_text
from tests.factories import make_contract

HOSTNAME = Path("/etc/hostname")


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    r = Renderer(pool_size=2, timeout=5.0, recycle_after=3)
    yield r
    await r.close()


@pytest.fixture
def canary() -> Any:
    """An HTTP server on loopback counting every request it receives."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


async def test_renders_and_reuses_pages(renderer: Renderer) -> None:
    for n in range(5):
        text = pdf_text(await renderer.render(f"<h1>Hello {n}</h1><p>&lt;b&gt; ñ €</p>"))
        assert f"Hello {n}" in text and "<b> ñ €" in text
    # One browser; pages recycled after 3 renders each
    assert renderer.launches == 1
    assert renderer.replaced_pages >= 1


async def test_external_references_never_load(renderer: Renderer, canary: Any) -> None:
    url, hits = canary
    hostname = HOSTNAME.read_text().strip() if HOSTNAME.exists() else ""  # noqa: ASYNC240
    html = f"""<html><head>
      <link rel="stylesheet" href="{url}/link.css">
      <style>@import url("{url}/import.css"); body {{ background: url({url}/bg.png); }}
      @font-face {{ font-family: x; src: url({url}/font.woff); }}</style>
      <meta http-equiv="refresh" content="0; url={url}/refresh">
      </head><body><p>SANDBOX-OK</p>
      <img src="{url}/img.png"><img srcset="{url}/srcset.png 2x">
      <iframe src="{url}/frame"></iframe><iframe src="file:///etc/hostname"></iframe>
      <object data="{url}/object"></object><embed src="{url}/embed">
      <svg><image href="{url}/svg.png" width="10" height="10"/></svg>
      <img src="file:///etc/hostname"><link rel="stylesheet" href="file:///etc/hostname">
      <script>fetch("{url}/script"); document.body.innerHTML = "JS-RAN";</script>
      <video src="{url}/video" poster="{url}/poster"></video>
      </body></html>"""
    text = pdf_text(await renderer.render(html))
    await asyncio.sleep(0.5)
    assert "SANDBOX-OK" in text and "JS-RAN" not in text
    assert hits == []
    # (the canary does count: a request from here is seen)
    await asyncio.to_thread(lambda: urllib.request.urlopen(f"{url}/control", timeout=5).read())
    assert hits == ["/control"]
    if hostname:
        assert hostname not in text


async def test_broken_html_still_renders(renderer: Renderer) -> None:
    text = pdf_text(await renderer.render("<table><tr><td>broken<div><b>unclosed <p>still"))
    assert "broken" in text and "still" in text


async def test_size_limits(renderer: Renderer) -> None:
    small = Renderer(max_html_bytes=1000, max_pdf_bytes=100)
    try:
        with pytest.raises(RenderError) as too_big:
            await small.render("x" * 2000)
        assert too_big.value.code == "TOO_LARGE"
        with pytest.raises(RenderError) as pdf_big:
            await small.render("<p>hello</p>")
        assert pdf_big.value.code == "TOO_LARGE" and "PDF" in pdf_big.value.message
    finally:
        await small.close()


async def test_a_hung_render_is_cut_and_its_page_replaced() -> None:
    renderer = Renderer(pool_size=1, timeout=5.0)
    try:
        await renderer.render("<p>warm</p>")
        # Given the only pooled page hangs in set_content
        assert renderer._free is not None and renderer._free.qsize() == 1
        slot = renderer._free.get_nowait()
        assert slot is not None

        async def hang(*args: Any, **kwargs: Any) -> None:
            await asyncio.sleep(3600)

        slot.page.set_content = hang
        renderer._free.put_nowait(slot)
        # When a render runs with a short limit, it fails cleanly with TIMEOUT, quickly
        started = asyncio.get_running_loop().time()
        with pytest.raises(RenderError) as failure:
            await renderer.render("<p>never</p>", time_limit=0.5)
        assert failure.value.code == "TIMEOUT"
        assert asyncio.get_running_loop().time() - started < 3
        # Then the page was replaced and the next renders work, same browser
        for n in range(3):
            assert f"after {n}" in pdf_text(await renderer.render(f"<p>after {n}</p>"))
        fresh = renderer._free.get_nowait()
        assert fresh is not None and fresh.page is not slot.page
        renderer._free.put_nowait(fresh)
        assert renderer.launches == 1 and renderer.replaced_pages == 1
    finally:
        await renderer.close()


def _browser_pids() -> list[int]:
    """Chromium browser processes (not its helpers) started by this test process."""
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if b"--type=" in b" ".join(cmdline) or not cmdline[0].endswith(b"chromium"):
            continue
        # Its parent is Playwright's driver, a child of this process.
        try:
            grand = int(Path(f"/proc/{ppid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if grand == me or ppid == me:
            pids.append(int(entry))
    return pids


async def test_a_killed_browser_is_relaunched(renderer: Renderer) -> None:
    await renderer.render("<p>before</p>")
    pids = _browser_pids()
    assert pids, "could not find the browser process"
    # When the browser is killed in the middle of a render
    pending = asyncio.ensure_future(renderer.render("<p>" + "mid-render " * 20000 + "</p>"))
    await asyncio.sleep(0.05)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(RenderError):
        await pending
    # Then the next render succeeds with a new browser
    for _ in range(20):
        if renderer._browser is None or not renderer._browser.is_connected():
            break
        await asyncio.sleep(0.1)
    assert "after crash" in pdf_text(await renderer.render("<p>after crash</p>"))
    assert renderer.launches == 2
    assert "again" in pdf_text(await renderer.render("<p>again</p>"))


async def test_no_browser_is_a_clear_error() -> None:
    missing = Renderer(executable="/nonexistent/chromium")
    try:
        with pytest.raises(RenderError) as failure:
            await missing.render("<p>x</p>")
        assert failure.value.code == "NO_BROWSER"
        assert "chromium" in failure.value.message.lower()
        assert "apt-get install chromium" in failure.value.message
    finally:
        await missing.close()


async def test_concurrent_renders_share_the_pool(renderer: Renderer) -> None:
    results = await asyncio.gather(*(renderer.render(f"<p>doc {n}</p>") for n in range(8)))
    for n, data in enumerate(results):
        assert f"doc {n}" in pdf_text(data)


async def test_a_hostile_contract_template_loads_nothing(demo: Any, canary: Any) -> None:

    from crm_graphql.models.companies import Company
    from crm_graphql.models.files import StoredFile
    from crm_graphql.services import files
    from tests.documents_api import GENERATE, TEMPLATE_CREATE

    url, hits = canary
    company = await Company.get(name="Customer #A")
    contract = await make_contract(company, "Hostile")
    html = (
        f'<link rel="stylesheet" href="{url}/a.css"><style>@import "{url}/b.css";'
        f"p {{ background: url('{url}/c.png') }}</style>"
        f'<meta http-equiv="refresh" content="0;url={url}/d"><p>HOSTILE _name_contract_</p>'
        f'<img src="{url}/e.png" srcset="{url}/f.png 2x"><iframe src="file:///etc/hostname">'
        f'</iframe><object data="{url}/g"></object><svg><image href="{url}/h.png"/></svg>'
        f'<script>new Image().src="{url}/i"</script><img src="file:///etc/hostname">'
    )
    created = await demo.data(
        TEMPLATE_CREATE, {"input": {"name": "Hostile", "html": html}}, as_user="admin"
    )
    template_id = created["contractTemplateCreate"]["template"]["id"]
    result = (
        await demo.data(GENERATE, {"c": str(contract.id), "t": template_id}, as_user="user1")
    )["contractGeneratePdf"]
    assert result["errors"] == [], result
    row = await StoredFile.get(id=int(result["file"]["id"]))
    text = pdf_text(files.open_for_download(row).read_bytes())
    await asyncio.sleep(0.3)
    assert "HOSTILE Hostile" in text
    assert hits == []
    if HOSTNAME.exists():  # noqa: ASYNC240
        assert HOSTNAME.read_text().strip() not in text  # noqa: ASYNC240


class TcpCanary:
    """A TCP listener on a free loopback port counting accepted connections (a
    connection that never sends a byte still counts: name resolution and connects are
    what leaks, not only HTTP requests)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()

    async def __aenter__(self) -> TcpCanary:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _reaching_html(port: int, host_macro: str = "") -> str:
    hosts = ["127.0.0.1", "localhost", "canary.localhost"]
    if host_macro:
        hosts.append(f"{host_macro}.localhost")
    parts = ["<p>TCP-CANARY</p>"]
    for host in hosts:
        url = f"http://{host}:{port}"
        parts += [
            f'<iframe src="{url}/frame"></iframe>',
            f'<img src="{url}/img.png">',
            f'<link rel="stylesheet" href="{url}/a.css">',
            f'<link rel="preconnect" href="{url}">',
            f'<link rel="dns-prefetch" href="{url}">',
            f'<link rel="prefetch" href="{url}/next">',
            f'<object data="{url}/object"></object><embed src="{url}/embed">',
            f'<a href="{url}/link">link</a>',
        ]
    return "".join(parts)


async def test_the_renderer_opens_no_tcp_connection(renderer: Renderer) -> None:
    """Issue 11.4: an iframe made Chromium connect in 2 of 4 renders."""
    async with TcpCanary() as canary:
        for n in range(4):
            text = pdf_text(await renderer.render(_reaching_html(canary.port) + f"<p>n{n}</p>"))
            assert "TCP-CANARY" in text and f"n{n}" in text
        await asyncio.sleep(1.0)
        assert canary.accepted == 0
        # (the canary does count)
        _, writer = await asyncio.open_connection("127.0.0.1", canary.port)
        writer.close()
        await asyncio.sleep(0.1)
        assert canary.accepted == 1


async def test_a_contract_template_opens_no_tcp_connection(demo: Any) -> None:
    """The same through contractGeneratePdf, with a host name built from a macro."""

    from crm_graphql.models.companies import Company
    from tests.documents_api import GENERATE, TEMPLATE_CREATE

    company = await Company.get(name="Customer #A")
    contract = await make_contract(company, "leak")
    async with TcpCanary() as canary:
        created = await demo.data(
            TEMPLATE_CREATE,
            {"input": {"name": "Reach", "html": _reaching_html(canary.port, "_name_contract_")}},
            as_user="admin",
        )
        template_id = created["contractTemplateCreate"]["template"]["id"]
        for _ in range(4):
            result = await demo.data(
                GENERATE, {"c": str(contract.id), "t": template_id}, as_user="user1"
            )
            assert result["contractGeneratePdf"]["errors"] == [], result
        await asyncio.sleep(1.0)
        assert canary.accepted == 0


def test_templates_lose_what_can_load_and_keep_their_formatting() -> None:
    from crm_graphql.services.pdf import sanitize_template

    html = (
        "<style>p { color: red }</style><h1 style='margin:0' class='t'>Title &amp; co</h1>"
        '<iframe src="http://x/">inner</iframe><object data="x">o</object><embed src="y">'
        '<link rel="stylesheet" href="http://x/a.css"><base href="http://x/">'
        '<img src="http://x/i.png" alt="remote"><img src="data:image/png;base64,AA" alt="ok">'
        '<svg><image href="http://x/s.png"/></svg><script>x()</script><table border="1">'
        '<tr><td colspan="2">cell</td></tr></table><a href="https://example.com/">site</a>'
    )
    clean = sanitize_template(html)
    for gone in (
        "iframe",
        "inner",
        "<object",
        "<embed",
        "<link",
        "<base",
        "http://x",
        "<svg",
        "x()",
    ):
        assert gone not in clean, (gone, clean)
    for kept in (
        "<style>p { color: red }</style>",
        '<h1 style="margin:0" class="t">Title &amp; co</h1>',
        'src="data:image/png;base64,AA"',
        '<td colspan="2">cell</td>',
        'href="https://example.com/"',
    ):
        assert kept in clean, (kept, clean)
