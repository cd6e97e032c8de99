"""Browser-facing protections for every response, as one pure ASGI middleware.

- **Cross-site requests**: a page on another origin can make a visitor's browser POST a
  plain HTML form (or a `fetch` without preflight) to `/graphql`: `multipart/form-data`,
  `application/x-www-form-urlencoded` and `text/plain` are "simple" content types that
  need no CORS preflight. Such a POST must carry a header a form cannot send: a bearer
  token, `X-CRM-CSRF` or `Apollo-Require-Preflight` (any non-empty value, as Apollo
  Server's CSRF prevention); otherwise it is refused with 400 before any other work.
  JSON bodies are never simple, so ordinary clients need nothing.
- **Response headers**: `X-Content-Type-Options: nosniff` on every response that does
  not set its own; on `/graphql` (answers and the GraphiQL page) also frame protection
  (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), `Referrer-Policy:
  no-referrer` and `Cache-Control: no-store` (answers hold a user's data). Other pages
  (the example web form, /include/api.php's answers) may be framed by the sites that
  use them."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_graphql.errors import ErrorCode

GRAPHQL_PATH = "/graphql"
# Content types a browser sends cross-origin without a CORS preflight.
SIMPLE_CONTENT_TYPES = frozenset(
    {"", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
# Any of these, non-empty, proves the request was not a plain form or simple request.
PREFLIGHT_HEADERS = (b"authorization", b"x-crm-csrf", b"apollo-require-preflight")
CSRF_MESSAGE = (
    "This request was refused as a possible cross-site request forgery: a POST to "
    "/graphql with a form or text/plain body must carry an Authorization bearer token "
    "or a non-empty X-CRM-CSRF (or Apollo-Require-Preflight) header."
)
EVERY_RESPONSE = ((b"x-content-type-options", b"nosniff"),)
GRAPHQL_RESPONSE = (
    *EVERY_RESPONSE,
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


def needs_preflight_header(scope: Scope) -> bool:
    """True for a POST to /graphql a plain cross-site form could have sent."""
    if scope.get("method") != "POST" or scope.get("path") != GRAPHQL_PATH:
        return False
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if content_type.decode("latin-1") not in SIMPLE_CONTENT_TYPES:
        return False
    return not any(headers.get(name, b"").strip() for name in PREFLIGHT_HEADERS)


class WebSecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = GRAPHQL_RESPONSE if scope.get("path") == GRAPHQL_PATH else EVERY_RESPONSE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in added if k not in present]
                message["headers"] = headers
            await send(message)

        if needs_preflight_header(scope):
            body = orjson.dumps(
                {
                    "errors": [
                        {"message": CSRF_MESSAGE, "extensions": {"code": ErrorCode.BAD_REQUEST}}
                    ]
                }
            )
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
