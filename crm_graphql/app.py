"""The Starlette application: routes, middleware and lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import GraphQLError, parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise

from crm_graphql import graphiql, mailworkers, multipart, redaction
from crm_graphql.api import build_schema
from crm_graphql.context import Context
from crm_graphql.dataloaders import Loaders
from crm_graphql.endpoints import aggregates as aggregate_endpoints
from crm_graphql.endpoints import calendar as calendar_endpoints
from crm_graphql.endpoints import documents as document_endpoints
from crm_graphql.endpoints import exports as export_endpoints
from crm_graphql.endpoints import files as file_endpoints
from crm_graphql.endpoints import leads as lead_endpoints
from crm_graphql.errors import QueryTimeout
from crm_graphql.extensions import default_code, operation_cost, too_costly, truncate_errors
from crm_graphql.permissions.scopes import path_allowed
from crm_graphql.services import audit, idempotency, pdf_queue
from crm_graphql.services import pdf as pdf_service
from crm_graphql.services.auth import InvalidToken, authenticate
from crm_graphql.services.bootstrap import ensure_defaults
from crm_graphql.services.database import database_ready
from crm_graphql.services.deadline import Deadline, deadline_scope
from crm_graphql.services.deadline import current as current_deadline
from crm_graphql.services.files import megabytes, upload_too_large
from crm_graphql.settings import Settings, settings, tortoise_config
from crm_graphql.websecurity import WebSecurityMiddleware

log = logging.getLogger("crm_graphql")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def error_body(message: str, code: str) -> dict[str, Any]:
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


async def _stop_on_disconnect(
    handler: ASGIApp, deadline: Deadline, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `handler`; if the client disconnects before the response starts, cancel the
    request's deadline and its task, so its database work stops too (SQLite: the
    progress handler interrupts the statement; PostgreSQL: asyncpg cancels it).

    The client's disconnect is the next message once the body has been read, so the
    watch starts only when the handler has read the last chunk of the body."""
    body_read = asyncio.Event()
    responding = False
    disconnected = False

    async def tracked_receive() -> Message:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            body_read.set()
        return message

    async def tracked_send(message: Message) -> None:
        nonlocal responding
        responding = True
        await send(message)

    work = asyncio.ensure_future(handler(scope, tracked_receive, tracked_send))

    async def watch() -> None:
        nonlocal disconnected
        await body_read.wait()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
        if not responding and not work.done():
            disconnected = True
            deadline.cancel()
            work.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        await work
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not disconnected or (task is not None and task.cancelling()):
            raise
        log.info("request %s: client disconnected; its work was stopped", _request_id(scope))
    finally:
        watcher.cancel()


def _request_id(scope: Scope) -> str:
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
            f"Request body over {megabytes(limit)} ({limit} bytes).", "PAYLOAD_TOO_LARGE"
        )
        if headers.get("content-type", "").startswith("multipart/"):
            # Room for the operations and the form around the file; a file over the
            # limit inside it is refused by the resolver, with the same code and words.
            files_limit = self.config.limits.max_upload_bytes
            limit = files_limit + 64 * 1024
            too_large = error_body(upload_too_large(files_limit), "TOO_LARGE")
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
                    state["viewer"] = await authenticate(token.strip())
            except QueryTimeout as exc:
                await _send_json(send, 503, error_body(exc.message, "TIMEOUT"), [id_header])
                return
            except InvalidToken:
                await _send_json(
                    send,
                    401,
                    error_body("The bearer token is invalid or has expired.", "UNAUTHENTICATED"),
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
                    "The service is temporarily unavailable; retry shortly.", "SERVICE_UNAVAILABLE"
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
                    "FORBIDDEN",
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


class GraphQLApp(GraphQL):
    """strawberry's ASGI view with our context, JSON errors, orjson and local GraphiQL."""

    def __init__(self, schema: strawberry.Schema, config: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if config.graphiql else None,
            allow_queries_via_get=config.allow_get_queries,
            multipart_uploads_enabled=True,
        )
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        deadline = current_deadline()
        if deadline is None:
            await self._respond(scope, receive, send)
            return
        await _stop_on_disconnect(self._respond, deadline, scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope=scope, receive=receive)
        key = request.headers.get(idempotency.HEADER)
        if key is not None and request.method == "POST":
            response = await idempotency.respond(request, key, self._run, self.config)
        else:
            response = await self._run(request)
        await response(scope, receive, send)

    async def _run(self, request: Request) -> Response:
        try:
            return await self.run(request)  # type: ignore[return-value]
        except HTTPException as exc:
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
            reason = exc.reason
            if exc.status_code == 404 and request.method == "GET" and not self.config.graphiql:
                # The GraphiQL page asked for where it is turned off: say so.
                reason = (
                    "GraphiQL is turned off here"
                    + (" (CRM_MODE=production)" if self.config.production else "")
                    + ": send queries as POST requests to this URL, or set CRM_GRAPHIQL=1."
                )
            return JSONResponse(error_body(reason, code), status_code=exc.status_code)

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        state = request.scope.get("state", {})
        client = request.client
        viewer = state.get("viewer")
        loaders = Loaders(viewer)
        if viewer is not None:
            # The middleware already loaded the viewer's bits; don't fetch them twice.
            loaders.users.bits.prime(viewer.user.id, viewer.bits)
        return Context(
            request=request,
            response=response,
            settings=self.config,
            viewer=viewer,
            loaders=loaders,
            request_id=state.get("request_id", ""),
            client_address=client.host if client else "unknown",
        )

    async def execute_operation(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: Any,
        request_data: Any,
        context: Context,
        root_value: Any,
        sub_response: Response,
    ) -> Any:
        """A batch is one request with one budget: its operations' costs are added up
        and the whole batch is refused when the sum is over the limit; the operations
        then run one after another (strawberry runs them concurrently), so a batch
        never multiplies the load one request can put on the server."""
        if not isinstance(request_data, list):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        refused = self._batch_cost_error(request_data)
        if refused is not None:
            return [ExecutionResult(data=None, errors=[refused]) for _ in request_data]
        results = []
        for data in request_data:
            results.append(
                await self.execute_single(
                    request=request,
                    request_adapter=request_adapter,
                    sub_response=sub_response,
                    context=context,
                    root_value=root_value,
                    request_data=data,
                )
            )
        return results

    def _batch_cost_error(self, batch: list[Any]) -> GraphQLError | None:
        limits = self.config.limits
        total = 0
        for data in batch:
            if not isinstance(data.query, str):
                continue
            variables = data.variables if isinstance(data.variables, dict) else None
            try:
                document = parse(data.query, max_tokens=limits.max_tokens)
                cost = operation_cost(
                    self.schema._schema,  # type: ignore[attr-defined]
                    document,
                    data.operation_name,
                    variables,
                    limits,
                )
            except GraphQLError:
                continue  # the operation reports its own error when it runs
            total += cost or 0
        if total > limits.max_cost:
            return too_costly(total, limits.max_cost, what="The batch's")
        return None

    async def parse_multipart(self, request: Any) -> Any:  # type: ignore[override]
        """strawberry's multipart parsing, with the map checked strictly
        (crm_graphql/multipart.py): a map that does not fit is a 400."""
        try:
            form_data = await request.get_form_data()
        except ValueError:
            raise HTTPException(400, "Unable to parse the multipart body.") from None
        try:
            operations = multipart.parse_json_field(form_data.form.get("operations"), "operations")
            files_map = multipart.parse_json_field(form_data.form.get("map"), "map")
            return multipart.place_files(operations, files_map, form_data.files)
        except multipart.MultipartError as exc:
            raise HTTPException(400, str(exc)) from None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql.graphiql_html(str(request.url.path)))

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        if result.errors:
            # However many problems a document has, a response lists a bounded number.
            result.errors = truncate_errors(result.errors, self.config.limits.max_errors)
        # Parse errors never reach the schema extensions: give them their code here.
        for error in result.errors or ():
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": default_code(error)}
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        value = orjson.loads(data)
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            return value
        raise HTTPException(
            400, "The request body must be a JSON object (or a list of them for a batch)."
        )


async def index(request: Request) -> Response:
    """GET /: where the API is, for a person who opens the server's address."""
    config: Settings = request.app.state.config
    if "text/html" in request.headers.get("accept", ""):
        graphiql_note = (
            '<p>Open <a href="/graphql">/graphql</a> for GraphiQL.</p>'
            if config.graphiql
            else "<p>GraphiQL is turned off here: POST GraphQL requests to /graphql.</p>"
        )
        return HTMLResponse(
            "<!doctype html><html lang=en><meta charset=utf-8><title>CRM GraphQL API</title>"
            f"<h1>CRM GraphQL API</h1><p>The GraphQL endpoint is <code>/graphql</code>.</p>"
            f"{graphiql_note}</html>"
        )
    return JSONResponse(
        {
            "graphql": "/graphql",
            "graphiql": "/graphql" if config.graphiql else None,
            "health": "/healthz",
        }
    )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    # The renderer is reported, not probed: a frozen Chromium must not stall this.
    renderer = pdf_queue.renderer_report(getattr(request.app.state, "config", settings))
    if await database_ready():
        return JSONResponse({"status": "ok", "database": "reachable", "renderer": renderer})
    return JSONResponse(
        {"status": "unavailable", "database": "unreachable", "renderer": renderer},
        status_code=503,
    )


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body("Not found.", "NOT_FOUND"), status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        error_body("Use GET or POST.", "METHOD_NOT_ALLOWED"),
        status_code=405,
        headers={"Allow": "GET, POST"},
    )


async def query_timeout(request: Request, exc: Exception) -> JSONResponse:
    """A download or feed whose database work outlived its deadline."""
    message = exc.message if isinstance(exc, QueryTimeout) else "Timed out."
    return JSONResponse(error_body(message, "TIMEOUT"), status_code=503)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.error("request %s: unhandled error", request_id, exc_info=exc)
    body = error_body("Internal error.", "INTERNAL_SERVER_ERROR")
    body["errors"][0]["extensions"]["requestId"] = request_id
    return JSONResponse(body, status_code=500)


# Collector thresholds (generation 0, 1, 2): the interpreter's defaults. The former
# (50_000, 20, 100) so rarely reached a full collection that cyclic garbage (exception
# tracebacks, for one) piled up in the oldest generation and a worker's memory grew
# without bound (issue 13: 75 -> 262 MB over 10,500 requests); raised thresholds also
# grew it here, while the latency they bought did not show at 10,000 requests
# (bench/gc_memory.py, bench/README.md). tests/test_gc.py guards this.
GC_THRESHOLDS = (700, 10, 10)


def tune_garbage_collector() -> None:
    """Everything alive after start-up (modules, the schema) lives as long as the
    process: freeze it out of the collector's scans, so full collections only walk
    what requests left behind; collect at the default thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(config: Settings | None = None) -> Starlette:
    config = config or settings
    # Before the first request is logged: tokens in URLs never reach a log line.
    redaction.install()
    schema = build_schema(config)
    graphql_app = GraphQLApp(schema, config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.is_sqlite:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if Tortoise.is_inited():
                # Another app in this process (a test, a benchmark) owns the ORM: share it.
                await ensure_defaults()
                async with mailworkers.running(config), pdf_queue.running(config):
                    yield
                return
            async with RegisterTortoise(
                app,
                config=tortoise_config(
                    config.database_url, config.sqlite_read_connections, config.db_pool_size
                ),
            ):
                await ensure_defaults()
                tune_garbage_collector()
                async with mailworkers.running(config), pdf_queue.running(config):
                    yield
        finally:
            # The PDF renderer's browser starts on first use; close it with the app.
            await pdf_service.shutdown()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/files/{file_id}", file_endpoints.download, methods=["GET"]),
        Route(
            "/invoices/{invoice_id}/document", document_endpoints.invoice_document, methods=["GET"]
        ),
        Route("/calendar/{token}.ics", calendar_endpoints.feed, methods=["GET"]),
        Route("/export/companies.csv", export_endpoints.export_companies, methods=["GET"]),
        Route("/export/contacts.csv", export_endpoints.export_contacts, methods=["GET"]),
        Route("/export/invoices.csv", export_endpoints.export_invoices, methods=["GET"]),
        Route("/export/contracts.csv", export_endpoints.export_contracts, methods=["GET"]),
        Route("/export/leads.csv", export_endpoints.export_leads, methods=["GET"]),
        Route("/export/aggregate.csv", aggregate_endpoints.export_aggregate, methods=["GET"]),
        # Integria IMS API 1.0 (op=create_lead) for web forms written for the original.
        Route("/include/api.php", lead_endpoints.api_php, methods=["GET", "POST"]),
        # The example web form, served so it can be tried without a web server of one's own.
        Route("/lead-web-form.html", lead_endpoints.web_form, methods=["GET"]),
        Mount(graphiql.STATIC_URL_PREFIX, StaticFiles(directory=graphiql.STATIC_DIR)),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            404: not_found,
            405: method_not_allowed,
            500: server_error,
            QueryTimeout: query_timeout,
        },
    )
    app.add_middleware(RequestMiddleware, config=config)
    # Outermost: its headers reach every answer, and a cross-site form post is refused
    # before the bearer token is even looked up.
    app.add_middleware(WebSecurityMiddleware)
    app.state.config = config
    app.state.schema = schema
    return app
