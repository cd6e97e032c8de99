"""The /graphql handler: strawberry's ASGI view with our context, JSON errors, orjson,
local GraphiQL, one cost budget per batch, idempotency keys, and the request's work
stopped when its client disconnects."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import DocumentNode, GraphQLError, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from crm_graphql import graphiql, multipart
from crm_graphql.api import Schema
from crm_graphql.compiled import permission_class, run_compiled
from crm_graphql.context import Context
from crm_graphql.dataloaders import Loaders
from crm_graphql.errors import ErrorCode
from crm_graphql.extensions import default_code, operation_cost, too_costly, truncate_errors
from crm_graphql.middleware import error_body, request_id_of
from crm_graphql.models.auth import TokenScope
from crm_graphql.services import idempotency
from crm_graphql.services.auth import InvalidToken, Viewer, authenticate
from crm_graphql.services.deadline import Deadline
from crm_graphql.services.deadline import current as current_deadline
from crm_graphql.settings import Settings

log = logging.getLogger("crm_graphql")

# The JSON body the lane parsed (its bytes, their value), which the view takes instead
# of parsing the same bytes again when the lane does not answer.
_parsed_body: ContextVar[tuple[bytes, object] | None] = ContextVar("crm_body", default=None)


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
        log.info("request %s: client disconnected; its work was stopped", request_id_of(scope))
    finally:
        watcher.cancel()


class _Lane:
    """Reads the compiled path answered, by exact request and permission class: a
    bounded LRU of their documents (see `GraphQLApp._lane`)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._known: OrderedDict[tuple[Any, ...], DocumentNode] = OrderedDict()

    @staticmethod
    def key(query: Any, operation_name: Any, variables: Any, viewer: Viewer) -> tuple[Any, ...]:
        """The request as sent (text, operation name, variables with sorted keys) and
        what the checks before execution read of the viewer (its permission class)."""
        try:
            sent = orjson.dumps([query, operation_name, variables], option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return ()
        return (hashlib.blake2b(sent, digest_size=16).digest(), permission_class(viewer))

    def get(self, key: tuple[Any, ...]) -> DocumentNode | None:
        document = self._known.get(key)
        if document is not None:
            self._known.move_to_end(key)
        return document

    def forget(self, key: tuple[Any, ...]) -> None:
        self._known.pop(key, None)

    def put(self, key: tuple[Any, ...], document: DocumentNode) -> None:
        if not key:
            return
        self._known[key] = document
        self._known.move_to_end(key)
        while len(self._known) > self.size:
            self._known.popitem(last=False)


class GraphQLApp(GraphQL[Context, None]):
    """strawberry's ASGI view with our context, JSON errors, orjson and local GraphiQL."""

    def __init__(self, schema: Schema, config: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if config.graphiql else None,
            allow_queries_via_get=config.allow_get_queries,
            multipart_uploads_enabled=True,
            # Subscriptions: the graphql-transport-ws protocol only (the legacy
            # graphql-ws one runs operations before connection_init in old versions).
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=config.limits.subscriptions_per_connection,
        )
        self.config = config
        # graphql-core's schema, which prices a batch before it runs.
        self.graphql_schema = schema._schema
        self.plans = schema.compiled_plans
        self.lane = _Lane()

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
        if self.config.compiled_reads:
            answer = await self._lane(request)
            if answer is not None:
                return answer
        try:
            return await self.run(request)
        except HTTPException as exc:
            code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
                exc.status_code, ErrorCode.BAD_REQUEST
            )
            reason = exc.reason
            if exc.status_code == 404 and request.method == "GET" and not self.config.graphiql:
                # The GraphiQL page asked for where it is turned off: say so.
                reason = (
                    "GraphiQL is turned off here"
                    + (" (CRM_MODE=production)" if self.config.production else "")
                    + ": send queries as POST requests to this URL, or set CRM_GRAPHIQL=1."
                )
            return JSONResponse(error_body(reason, code), status_code=exc.status_code)

    async def _lane(self, request: Request) -> Response | None:
        """A read the compiled path answered before, sent again exactly (the same text,
        operation name and variables, by a viewer of the same permission class), goes
        straight to the compiled path: every check before execution (tokens, parsing,
        validation with the cost rules, the scope gate, NUL bytes, the operation limits)
        passed for it then and reads nothing else, so strawberry's view, validation and
        extensions are skipped. The answer is the one they would give, byte for byte:
        no errors, no headers of its own. A miss or anything but an answer (an unknown
        id, a failure) runs the whole way as usual."""
        if request.method != "POST":
            return None
        viewer = request.scope.get("state", {}).get("viewer")
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if (
            viewer is None
            or content_type != "application/json"
            or self._get_stream_transport_from_headers(request.headers) is not None
        ):
            return None
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None  # the view refuses it as usual
        _parsed_body.set((raw, body))
        if not isinstance(body, dict) or body.get("extensions") is not None:
            return None
        query, name, variables = body.get("query"), body.get("operationName"), body.get("variables")
        key = _Lane.key(query, name, variables, viewer)
        document = self.lane.get(key)
        if document is None:
            return None
        answer = await run_compiled(
            self.schema,
            document,
            name,
            variables,
            viewer,
            self.config.limits,
            self.plans,
            root_path=str(request.scope.get("root_path", "")),
        )
        if answer is None or answer.left:
            # It will not do now (an object no longer visible...): the executor answers,
            # without the compiled path trying again, and the next time goes the long way.
            self.lane.forget(key)
            request.scope.setdefault("state", {})["compiled_declined"] = True
            return None
        return Response(self.encode_json({"data": answer.data}), media_type="application/json")

    def _remember(self, data: Any, context: Context, result: Any) -> None:
        """A single operation the compiled path answered whole without an error, for the
        lane (`compiled_document` is set only then)."""
        if (
            context.compiled_document is not None
            and context.viewer is not None
            and isinstance(result, ExecutionResult)
            and not result.errors
            and not result.extensions
            and data.extensions is None
            and data.protocol == "http"
        ):
            key = _Lane.key(data.query, data.operation_name, data.variables, context.viewer)
            self.lane.put(key, context.compiled_document)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if isinstance(request, WebSocket):
            # Authenticated by `connection_init` (on_ws_connect), not by a header.
            return Context(
                request=cast(Request, request),
                response=None,
                settings=self.config,
                viewer=None,
                loaders=Loaders(None),
                request_id="",
                client_address=request.client.host if request.client else "unknown",
            )
        assert isinstance(response, Response)
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
            compiled_declined=state.get("compiled_declined", False),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """`connection_init` must carry a FULL token (`Authorization: Bearer crm_…`, or
        `token`); otherwise the connection is closed with 4403 before any operation."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization") or params.get("token")
        if isinstance(raw, str) and raw[:7].lower() == "bearer ":
            raw = raw[7:].strip()
        if not isinstance(raw, str):
            raise ConnectionRejectionError({"reason": "a bearer token is required"})
        try:
            viewer = await authenticate(raw)
        except InvalidToken:
            raise ConnectionRejectionError({"reason": "the token is not valid"}) from None
        if viewer.scope != TokenScope.FULL:
            raise ConnectionRejectionError({"reason": "a FULL token is required"})
        context.viewer = viewer
        context.loaders = Loaders(viewer)
        context.raw_token = raw
        return UNSET

    async def execute_operation(
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
            result = await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
            self._remember(request_data, context, result)
            return result
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
                    self.graphql_schema,
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

    async def parse_multipart(self, request: Any) -> Any:
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
        parsed = _parsed_body.get()
        value = parsed[1] if parsed is not None and parsed[0] is data else orjson.loads(data)
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            return value
        raise HTTPException(
            400, "The request body must be a JSON object (or a list of them for a batch)."
        )
