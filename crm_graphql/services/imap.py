"""The reference mailbox over IMAP (aioimaplib 2.0.3), reduced to what the lead poller
needs: list the messages not yet filed, fetch one without marking it seen, and flag it
filed with the keyword `$CrmFiled`.

aioimaplib reports most failures as a response, not an exception (a refused login is
`Response("NO", ...)`), its `uid()` and `append()` have no overall timeout, and a lost
connection leaves a pending command waiting forever. This wrapper turns all of that into
MailboxError, bounds every command with the timeout, and fails fast when the connection
drops. The response shapes parsed here were checked against Dovecot 2.3."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl as ssl_module
from collections.abc import Awaitable
from types import TracebackType
from typing import Self

import aioimaplib

log = logging.getLogger("crm_graphql.imap")

FILED = "$CrmFiled"
DEFAULT_TIMEOUT = 30.0

_UIDVALIDITY_RE = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_PERMANENTFLAGS_RE = re.compile(rb"\[PERMANENTFLAGS \(([^)]*)\)\]")
_FETCH_RE = re.compile(rb"^\d+ FETCH \(")
_UID_RE = re.compile(rb"\bUID (\d+)\b")
_FLAGS_RE = re.compile(rb"\bFLAGS \(([^)]*)\)")
_SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)\b")
_LITERAL_RE = re.compile(rb"BODY\[\] \{(\d+)\}$")
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class MailboxError(Exception):
    """The mailbox cannot be used: unreachable, login refused, a command failed, the
    connection dropped or timed out. `reason` is for the mail status and the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageNotFound(MailboxError):
    """No message with that UID (expunged meanwhile)."""


class MessageTooLarge(MailboxError):
    def __init__(self, uid: int, size: int, limit: int) -> None:
        super().__init__(f"message {uid} is {size} bytes, over the limit of {limit}")
        self.size = size


def _text(lines: list[bytes]) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in lines)[:300]


def _fetch_lines(lines: list[bytes], uid: int) -> list[bytes]:
    """The untagged FETCH lines about `uid`. Unsolicited FETCH responses (flag changes by
    other sessions) arrive mixed in, so each is matched by its UID."""
    return [
        line
        for line in lines
        if isinstance(line, bytes)
        and _FETCH_RE.match(line)
        and (m := _UID_RE.search(line))
        and int(m.group(1)) == uid
    ]


class Mailbox:
    """One IMAP session on a selected folder (INBOX by default):

        async with Mailbox(host, port, user, password) as box:
            for uid in await box.unprocessed_uids():
                raw = await box.fetch(uid)
                ...
                await box.mark_processed(uid)

    Commands run one at a time (aioimaplib cannot interleave them on one session)."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        ssl: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        folder: str = "INBOX",
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.ssl = ssl
        self.timeout = timeout
        self.folder = folder
        self.ssl_context = ssl_context
        self.uidvalidity: int = 0
        self._client: aioimaplib.IMAP4 | None = None
        self._lost: asyncio.Future[None] | None = None
        self._broken: str | None = None
        self._lock = asyncio.Lock()

    # -- session -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            await self._open()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    def _on_connection_lost(self, exc: Exception | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._broken = None
        context = None
        if self.ssl:
            context = self.ssl_context or ssl_module.create_default_context()
        # IMAP4 rather than IMAP4_SSL: only IMAP4 takes the connection-lost callback.
        self._client = aioimaplib.IMAP4(
            host=self.host,
            port=self.port,
            timeout=self.timeout,
            conn_lost_cb=self._on_connection_lost,
            ssl_context=context,
        )
        where = f"{self.host}:{self.port}"
        try:
            await self._client.wait_hello_from_server()
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            raise MailboxError(f"cannot connect to {where}: {type(exc).__name__}: {exc}") from exc
        # The user name goes out unquoted in aioimaplib; quoting keeps spaces and
        # specials in one argument.
        response = await self._call(
            "login", self._client.login(aioimaplib.quoted(self.user), self.password)
        )
        if response.result != "OK":
            raise MailboxError(
                f"login refused for {self.user!r} on {where}: {_text(response.lines)}"
            )
        response = await self._call("select", self._client.select(aioimaplib.quoted(self.folder)))
        if response.result != "OK":
            raise MailboxError(f"cannot select {self.folder}: {_text(response.lines)}")
        lines = [line for line in response.lines if isinstance(line, bytes)]
        validity = next((m for line in lines if (m := _UIDVALIDITY_RE.search(line))), None)
        if validity is None:
            raise MailboxError(f"{self.folder} has no UIDVALIDITY")
        self.uidvalidity = int(validity.group(1))
        permanent = next((m for line in lines if (m := _PERMANENTFLAGS_RE.search(line))), None)
        flags = permanent.group(1).split() if permanent else []
        # Without a stored keyword every message would be filed again on each pass.
        if rb"\*" not in flags and FILED.encode() not in flags:
            raise MailboxError(f"{self.folder} does not keep keywords such as {FILED}")

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.get_state() in ("AUTH", "SELECTED") and not self._broken:
                await asyncio.wait_for(client.logout(), min(self.timeout, 5.0))
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            log.debug("IMAP logout failed: %s", exc)
        finally:
            # Still connecting (a timed-out greeting): stop trying.
            connecting = client._client_task
            if not connecting.done():
                connecting.cancel()
            transport = client.protocol.transport
            if transport is not None:
                transport.close()
        self._broken = "closed"

    async def _call(
        self, what: str, command: Awaitable[aioimaplib.Response]
    ) -> aioimaplib.Response:
        """Run one command under the timeout; MailboxError on timeout, protocol error or a
        dropped connection (after which the session refuses further commands)."""
        if self._broken or self._lost is None:
            if asyncio.iscoroutine(command):
                command.close()
            raise MailboxError(f"{what}: the IMAP session is {self._broken or 'not open'}")
        task = asyncio.ensure_future(asyncio.wait_for(command, self.timeout))
        done, _ = await asyncio.wait({task, self._lost}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            task.cancel()
            self._broken = "disconnected"
            raise MailboxError(f"{what}: connection to {self.host}:{self.port} lost")
        try:
            return task.result()
        except (TimeoutError, OSError, aioimaplib.AioImapException, ValueError) as exc:
            # A timed-out command stays pending inside aioimaplib: the session is unusable.
            self._broken = "broken"
            raise MailboxError(f"{what} failed: {type(exc).__name__}: {exc}") from exc

    async def _ok(self, what: str, command: Awaitable[aioimaplib.Response]) -> list[bytes]:
        response = await self._call(what, command)
        if response.result != "OK":
            raise MailboxError(f"{what} refused: {_text(response.lines)}")
        return list(response.lines)

    def _session(self) -> aioimaplib.IMAP4:
        if self._client is None:
            raise MailboxError("the IMAP session is not open")
        return self._client

    # -- messages ----------------------------------------------------------------------

    async def _search(self, *criteria: str) -> list[int]:
        client = self._session()
        lines = await self._ok("search", client.uid_search(*criteria, charset=None))
        # The untagged SEARCH reaches us without its keyword ("1 2 3", or b"" when
        # nothing matched); the last line is the tagged completion text.
        uids = {int(token) for line in lines[:-1] for token in line.split() if token.isdigit()}
        return sorted(uids)

    async def unprocessed_uids(self) -> list[int]:
        """UIDs of messages not flagged `$CrmFiled` (nor deleted), ascending."""
        async with self._lock:
            return await self._search("UNKEYWORD", FILED, "UNDELETED")

    async def uids(self) -> list[int]:
        """UIDs of every message in the folder, ascending."""
        async with self._lock:
            return await self._search("ALL")

    async def _uid_fetch(self, uid: int, items: str) -> list[bytes]:
        return await self._ok(
            f"fetch {uid}", self._session().uid("fetch", str(int(uid)), f"(UID {items})")
        )

    async def size(self, uid: int) -> int:
        """The message's size in bytes; MessageNotFound when it is gone."""
        async with self._lock:
            found = _fetch_lines(await self._uid_fetch(uid, "RFC822.SIZE"), uid)
        match = next((m for line in found if (m := _SIZE_RE.search(line))), None)
        if match is None:
            raise MessageNotFound(f"no message with UID {uid}")
        return int(match.group(1))

    async def fetch(self, uid: int, *, max_bytes: int | None = None) -> bytes:
        """The raw message, read with BODY.PEEK[] so it is not marked seen. With
        `max_bytes`, a larger message raises MessageTooLarge before it is downloaded."""
        if max_bytes is not None:
            size = await self.size(uid)
            if size > max_bytes:
                raise MessageTooLarge(uid, size, max_bytes)
        async with self._lock:
            lines = await self._uid_fetch(uid, "BODY.PEEK[]")
        # The literal (a bytearray) follows the line announcing it; the UID is on that
        # line or, with some servers, in the rest of the response after the literal.
        for index, line in enumerate(lines[:-1]):
            literal = lines[index + 1]
            if not (isinstance(line, bytes) and isinstance(literal, bytearray)):
                continue
            announced = _LITERAL_RE.search(line)
            if announced is None or int(announced.group(1)) != len(literal):
                continue
            after = lines[index + 2] if index + 2 < len(lines) else b""
            ids = [m for part in (line, bytes(after)) if (m := _UID_RE.search(part))]
            if ids and int(ids[0].group(1)) == uid:
                return bytes(literal)
        if not _fetch_lines(lines, uid):
            raise MessageNotFound(f"no message with UID {uid}")
        raise MailboxError(f"unexpected FETCH response for UID {uid}: {_text(lines)}")

    async def flags(self, uid: int) -> set[str] | None:
        """The message's flags, or None when it is gone."""
        async with self._lock:
            found = _fetch_lines(await self._uid_fetch(uid, "FLAGS"), uid)
        return _flags_of(found)

    async def mark_processed(self, uid: int) -> bool:
        """Flag the message `$CrmFiled`. True once the server shows the flag; False when
        the message is gone; MailboxError when the server did not keep the flag."""
        async with self._lock:
            lines = await self._ok(
                f"store {uid}", self._session().uid("store", str(int(uid)), "+FLAGS", f"({FILED})")
            )
        flags = _flags_of(_fetch_lines(lines, uid))
        if flags is None:
            # Servers need not echo flags that were already set: ask.
            flags = await self.flags(uid)
            if flags is None:
                return False
        if FILED not in flags:
            raise MailboxError(f"the server did not keep {FILED} on message {uid}")
        return True

    async def append(self, raw: bytes, *, flags: str | None = None) -> int | None:
        """Add a message to the folder (tests and tools); its UID when the server says
        (UIDPLUS), else None."""
        async with self._lock:
            lines = await self._ok(
                "append", self._session().append(raw, aioimaplib.quoted(self.folder), flags)
            )
        for line in lines:
            match = _APPENDUID_RE.search(bytes(line))
            if match:
                return int(match.group(2))
        return None


def _flags_of(lines: list[bytes]) -> set[str] | None:
    flags: set[str] | None = None
    for line in lines:
        match = _FLAGS_RE.search(line)
        if match:
            flags = set(match.group(1).decode("utf-8", "replace").split())
    return flags
