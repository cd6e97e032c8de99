"""The request middleware: a request id (echoed as X-Request-ID), the body size limit,
the bearer token resolved to a viewer and a token scope's paths, before any handler
runs; and the JSON error body every refusal uses."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_graphql.errors import ErrorCode, QueryTimeout
from crm_graphql.permissions.scopes import path_allowed
from crm_graphql.services import audit
from crm_graphql.services.auth import InvalidToken, authenticate
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.services.files.names import megabytes, upload_too_large
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def error_body(message: str, code: ErrorCode) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: Any = ()) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _BodyTooLarge(Exception):
    pass


async def _drain(receive: Receive, limit: int) -> list[tuple[bytes, bytes]]:
    """Read and drop the rest of a request body we answer without using, so the
    connection can carry the client's next request; past `limit` bytes give up and
    tell the client the connection closes (the extra headers to send)."""
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return [(b"connection", b"close")]
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return []
        if received > limit:
            return [(b"connection", b"close")]


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class RequestMiddleware:
    """Per request: an id (echoed as X-Request-ID), a body size limit, and the bearer
    token resolved to a viewer before any GraphQL work starts."""

    def __init__(self, app: ASGIApp, config: Settings) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())

        limit = self.config.limits.max_body_bytes
        too_large = error_body(
            f"Request body over {megabytes(limit)} ({limit} bytes).", ErrorCode.PAYLOAD_TOO_LARGE
        )
        if headers.get("content-type", "").startswith("multipart/"):
            # Room for the operations and the form around the file; a file over the
            # limit inside it is refused by the resolver, with the same code and words.
            files_limit = self.config.limits.max_upload_bytes
            limit = files_limit + 64 * 1024
            too_large = error_body(upload_too_large(files_limit), ErrorCode.TOO_LARGE)
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, too_large, [id_header])
            return

        authorization = headers.get("authorization", "")
        state["viewer"] = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            try:
                if scheme.lower() != "bearer" or not token.strip():
                    raise InvalidToken
                with deadline_scope(self.config.query_timeout_seconds):
                    state["viewer"] = await authenticate(
                        token.strip(), self.config.auth_cache_seconds
                    )
            except QueryTimeout as exc:
                await _send_json(send, 503, error_body(exc.message, ErrorCode.TIMEOUT), [id_header])
                return
            except InvalidToken:
                await _send_json(
                    send,
                    401,
                    error_body(
                        "The bearer token is invalid or has expired.", ErrorCode.UNAUTHENTICATED
                    ),
                    [
                        id_header,
                        (b"www-authenticate", b'Bearer error="invalid_token"'),
                        *await _drain(receive, limit),
                    ],
                )
                return
            except Exception:
                # The database failed us (connection lost, overloaded). Answer here: an
                # exception escaping to Starlette's error middleware is re-raised to
                # uvicorn, which then drops the keep-alive connection without a word.
                log.exception("request %s: authentication failed", request_id)
                body = error_body(
                    "The service is temporarily unavailable; retry shortly.",
                    ErrorCode.SERVICE_UNAVAILABLE,
                )
                body["errors"][0]["extensions"]["requestId"] = request_id
                await _send_json(
                    send,
                    503,
                    body,
                    [id_header, (b"retry-after", b"1"), *await _drain(receive, limit)],
                )
                return

        viewer = state["viewer"]
        path = scope.get("path", "")
        if viewer is not None and not path_allowed(viewer.scope, path):
            # A narrow token (a web form's) reaches its own paths only, whatever each
            # endpoint checks itself.
            with deadline_scope(self.config.query_timeout_seconds):
                await audit.record(
                    viewer.user,
                    audit.DENIED,
                    "Path",
                    path[:200],
                    {"reason": f"token scope {viewer.scope.value}"},
                    request_id,
                )
            await _send_json(
                send,
                403,
                error_body(
                    f"This API token (scope {viewer.scope.value}) cannot be used here.",
                    ErrorCode.FORBIDDEN,
                ),
                [id_header],
            )
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            with deadline_scope(self._timeout(scope.get("path", ""))):
                await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 413, too_large, [id_header])

    def _timeout(self, path: str) -> float:
        """The deadline on this request's database work (services/deadline.py)."""
        if path.startswith("/export/"):
            return self.config.export_timeout_seconds
        if path.startswith("/invoices/"):
            # Document rendering has a time limit of its own, on top of the reads.
            return self.config.query_timeout_seconds + self.config.pdf_timeout_seconds
        return self.config.query_timeout_seconds
