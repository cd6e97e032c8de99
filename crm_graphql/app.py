"""The Starlette application: routes, lifespan and the plain endpoints; the request
middleware is in middleware.py, the /graphql handler in graphql_app.py."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise

from crm_graphql import graphiql, mailworkers, redaction, webhookworkers
from crm_graphql.api import build_schema
from crm_graphql.endpoints import aggregates as aggregate_endpoints
from crm_graphql.endpoints import calendar as calendar_endpoints
from crm_graphql.endpoints import documents as document_endpoints
from crm_graphql.endpoints import exports as export_endpoints
from crm_graphql.endpoints import files as file_endpoints
from crm_graphql.endpoints import leads as lead_endpoints
from crm_graphql.errors import ErrorCode, QueryTimeout
from crm_graphql.graphql_app import GraphQLApp
from crm_graphql.middleware import RequestMiddleware, error_body
from crm_graphql.services import events as event_service
from crm_graphql.services import pdf as pdf_service
from crm_graphql.services import pdf_queue, trash
from crm_graphql.services.bootstrap import ensure_defaults
from crm_graphql.services.database import database_ready
from crm_graphql.settings import Settings, settings, tortoise_config
from crm_graphql.websecurity import WebSecurityMiddleware

log = logging.getLogger("crm_graphql")


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
    return JSONResponse(error_body("Not found.", ErrorCode.NOT_FOUND), status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        error_body("Use GET or POST.", ErrorCode.METHOD_NOT_ALLOWED),
        status_code=405,
        headers={"Allow": "GET, POST"},
    )


async def query_timeout(request: Request, exc: Exception) -> JSONResponse:
    """A download or feed whose database work outlived its deadline."""
    message = exc.message if isinstance(exc, QueryTimeout) else "Timed out."
    return JSONResponse(error_body(message, ErrorCode.TIMEOUT), status_code=503)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.error("request %s: unhandled error", request_id, exc_info=exc)
    body = error_body("Internal error.", ErrorCode.INTERNAL_SERVER_ERROR)
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
                async with (
                    mailworkers.running(config),
                    pdf_queue.running(config),
                    trash.running(config),
                    event_service.listening(),
                    webhookworkers.running(config),
                ):
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
                async with (
                    mailworkers.running(config),
                    pdf_queue.running(config),
                    trash.running(config),
                    event_service.listening(),
                    webhookworkers.running(config),
                ):
                    yield
        finally:
            # The PDF renderer's browser starts on first use; close it with the app.
            await pdf_service.shutdown()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_app),
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
