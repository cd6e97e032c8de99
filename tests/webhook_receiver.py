"""A real HTTP receiver of webhook deliveries on loopback, in a thread of its own (so a
server process under test, or the test's own event loop, can post to it), recording
every request; its answer (status, delay, redirect) is set by the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    delay: float = 0.0
    location: str = ""
    # While set, a request is held (its sender waits) and then refused, not recorded.
    hold: threading.Event = field(default_factory=threading.Event)
    arrivals: int = 0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def taken(self) -> list[Received]:
        """The requests answered 2xx so far (the ones a sender may count as delivered)."""
        with self.lock:
            return list(self.requests)

    def wait_for(self, count: int, seconds: float) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.taken()) >= count:
                return self.taken()
            time.sleep(0.05)
        return self.taken()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            content = self.rfile.read(length)
            with receiver.lock:
                receiver.arrivals += 1
            if receiver.hold.is_set():
                deadline = time.monotonic() + 60
                while receiver.hold.is_set() and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.status
            if 200 <= status < 300:
                with receiver.lock:
                    receiver.requests.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, content
                        )
                    )
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender that gave up (timeout tests) breaks the pipe: expected


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    """A receiver on a free loopback port until the block ends."""
    receiver = Receiver(**options)
    server = _Server(("127.0.0.1", receiver.port), _handler(receiver))
    server.daemon_threads = True
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
