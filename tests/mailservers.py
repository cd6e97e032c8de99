"""Real mail servers for the tests, started by the tests (registered as a pytest plugin in
conftest.py):

- `smtp_server`: aiosmtpd on 127.0.0.1, recording what arrives; can refuse on demand,
  and stop and start again on the same port ("SMTP down, then up").
- `dovecot`: a real Dovecot IMAP server with a private configuration on a loopback port,
  one user with a Maildir; its mailbox is emptied before each test that uses it.

Both servers live for the whole session; the function-scoped fixtures hand out the same
server, started and emptied. The Dovecot helpers talk IMAP through the standard library's
imaplib (in a thread), independently of the aioimaplib code under test."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float, alive: Any = None) -> bool:
    """True once something accepts connections on the port; False after `timeout` or as
    soon as `alive()` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------------------------------
# SMTP


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class _Recorder:
    """aiosmtpd handler; runs in the controller's thread."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = self.server.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        raw = bytes(envelope.original_content or envelope.content or b"")
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.received.append(
                ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), raw, message)
            )
        return "250 Message accepted"


@dataclass
class SmtpServer:
    """An aiosmtpd server on 127.0.0.1:`port`. `received` lists what was accepted.
    Refusals for tests: `refuse[address] = "550 5.1.1 No such user"` refuses a recipient,
    `data_reply = "451 4.3.0 Try later"` refuses every message; `clear()` resets all."""

    host: str = LOOPBACK
    port: int = field(default_factory=free_port)
    received: list[ReceivedMail] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        # A fresh controller each time: aiosmtpd controllers are not meant to restart.
        controller = Controller(
            _Recorder(self), hostname=self.host, port=self.port, server_hostname="localhost"
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
        self.refuse.clear()
        self.data_reply = None

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[ReceivedMail]:
        """The received mails once there are at least `count` (a background sender may
        still be working); AssertionError after `seconds`."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mails, got {len(self.received)}")
            await asyncio.sleep(0.02)
        return list(self.received)


@pytest.fixture(scope="session")
def smtp_server_session() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer) -> SmtpServer:
    """The session's SMTP server, running, with nothing received and no refusals."""
    smtp_server_session.start()
    smtp_server_session.clear()
    return smtp_server_session


# ---------------------------------------------------------------------------------------
# Dovecot

DOVECOT_CONF = """\
# Private test instance: loopback only, plaintext, one user from a passwd-file.
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# The tests try wrong passwords on purpose. By default a failed login is answered after
# 2 s (0.5 s remains: failures are flushed on a timer), and each further failure from the
# same address delays every later login, even a good one, by up to 15 s: anvil's auth
# penalty, off when the auth process cannot open its socket.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def _dovecot_binary() -> str:
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.fail(
            "Dovecot is not installed: the IMAP tests need a real server. Run "
            "`./scripts/setup.sh --test` (or `apt-get install -y dovecot-imapd`).",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail(
            "The Dovecot fixture starts Dovecot as root (its mail user is mapped to "
            "`mail`, and Dovecot refuses uid 0 for mail): run the tests as root.",
            pytrace=False,
        )
    return binary


@dataclass
class DovecotServer:
    """A Dovecot IMAP server on 127.0.0.1:`port` with one user, `user`/`password`,
    whose INBOX the helpers read and change over IMAP."""

    root: Path
    binary: str
    host: str = LOOPBACK
    port: int = field(default_factory=free_port)
    user: str = "crm"
    password: str = "s3cret-Pass"
    process: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        return self.root / "home" / self.user

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def configure(self) -> Path:
        mail = pwd.getpwnam("mail")
        # mkdtemp makes a 0700 directory; the mail user must reach its home through it.
        self.root.chmod(0o755)
        self.home.mkdir(parents=True, exist_ok=True)
        for path in (self.home.parent, self.home):
            os.chown(path, mail.pw_uid, mail.pw_gid)
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{mail.pw_uid}:{mail.pw_gid}::{self.home}::\n"
        )
        conf = self.root / "dovecot.conf"
        conf.write_text(
            DOVECOT_CONF.format(
                host=self.host, port=self.port, root=self.root, uid=mail.pw_uid, gid=mail.pw_gid
            )
        )
        return conf

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        conf = self.configure()
        with open(self.root / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(  # -F: stay in the foreground, we own the pid
                [self.binary, "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                # Its own process group, so stop() can end the master and its children.
                start_new_session=True,
            )
        if not wait_for_port(self.port, 15.0, alive=lambda: self.running):
            self.stop()
            stderr = (self.root / "stderr.log").read_text(errors="replace")
            pytest.fail(
                f"Dovecot did not start on port {self.port}.\n{stderr}\n{self.log_tail()}",
                pytrace=False,
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        # A graceful SIGTERM takes Dovecot 1-6 s (the master waits for its children); the
        # tests keep no state worth it, and a Maildir survives a kill.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and wait_for_port(self.port, 0.05):
            time.sleep(0.02)

    def kick(self) -> None:
        """Drop every open IMAP session of the user, as a server restart or an idle
        timeout would (stopping the master leaves running sessions alive)."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        subprocess.run(
            [doveadm, "-c", str(self.root / "dovecot.conf"), "kick", self.user],
            check=True,
            capture_output=True,
            timeout=10,
        )

    # -- IMAP helpers (stdlib imaplib, in a thread) ------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            imap.select("INBOX")
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def _append(self, raw: bytes, flags: str | None) -> int:
        with self._session() as imap:
            status, data = imap.append("INBOX", flags, None, raw)
        assert status == "OK", data
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")
        assert match, data
        return int(match.group(1))

    def _uids(self) -> list[int]:
        with self._session() as imap:
            status, data = imap.uid("SEARCH", "ALL")
        assert status == "OK", data
        return [int(uid) for uid in (data[0] or b"").split()]

    def _flags(self, uid: int) -> set[str] | None:
        with self._session() as imap:
            status, data = imap.uid("FETCH", str(uid), "(FLAGS)")
        assert status == "OK", data
        for item in data:
            if isinstance(item, bytes) and re.search(rb"\bUID %d\b" % uid, item):
                return {flag.decode() for flag in imaplib.ParseFlags(item)}
        return None

    def _reset(self) -> None:
        with self._session() as imap:
            _, data = imap.uid("SEARCH", "ALL")
            uids = (data[0] or b"").split()
            if uids:
                imap.uid("STORE", b",".join(uids).decode(), "+FLAGS.SILENT", r"(\Deleted)")
                imap.expunge()

    async def append(self, raw: bytes, flags: str | None = None) -> int:
        """Put a message in the INBOX over IMAP APPEND; its UID."""
        return await asyncio.to_thread(self._append, raw, flags)

    async def uids(self) -> list[int]:
        return await asyncio.to_thread(self._uids)

    async def count(self) -> int:
        return len(await self.uids())

    async def flags(self, uid: int) -> set[str] | None:
        """The message's flags (`{"$CrmFiled", "\\\\Seen"}`...), None when it is gone."""
        return await asyncio.to_thread(self._flags, uid)

    async def reset(self) -> None:
        """Empty the INBOX (UIDVALIDITY stays, new UIDs keep counting up)."""
        await asyncio.to_thread(self._reset)


@pytest.fixture(scope="session")
def dovecot_session() -> Iterator[DovecotServer]:
    binary = _dovecot_binary()
    root = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
    server = DovecotServer(root=root, binary=binary)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def dovecot(dovecot_session: DovecotServer) -> DovecotServer:
    """The session's Dovecot, running, with an empty INBOX."""
    dovecot_session.start()
    await dovecot_session.reset()
    return dovecot_session
