"""GET /export/aggregate.csv?query=<GraphQL document>&variables=<JSON>: any aggregate
(`companiesAggregate`, `invoicesAggregate`, ...) as CSV.

The document is run by the GraphQL schema itself with the caller's viewer, so the
export accepts exactly what the API accepts, under the same validation, cost rules,
permissions and access rules; it must select one aggregate field (with `groups { keys
{ name value label } currency values { name value } }`). One CSV line per group of the
page asked for (`first`, at most the page cap): a column per dimension (plus
`<name> label` for relations), `currency` when a money measure is asked for, then a
column per measure. Errors are JSON, as /graphql's: 401 without a token, 400 for a
document the schema refuses (with its errors), 403 when a permission refuses it."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from crm_graphql.context import Context
from crm_graphql.dataloaders import Loaders
from crm_graphql.errors import ErrorCode
from crm_graphql.services.csvio import CsvEncoder

MAX_QUERY_CHARS = 20_000


def _error(status: int, message: str, code: ErrorCode, **extra: Any) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}], **extra}
    return JSONResponse(body, status_code=status)


def _rows(result: dict[str, Any]) -> list[list[str]]:
    groups = result.get("groups") or []
    names = [k["name"] for k in groups[0]["keys"]] if groups else []
    labelled = [
        any(g["keys"][i].get("label") is not None for g in groups) for i in range(len(names))
    ]
    money = any(g.get("currency") is not None for g in groups)
    measures = [v["name"] for v in groups[0]["values"]] if groups else []
    header = [c for i, n in enumerate(names) for c in ([n, f"{n} label"] if labelled[i] else [n])]
    header += (["currency"] if money else []) + measures
    rows = [header]
    for g in groups:
        row: list[str] = []
        for i, key in enumerate(g["keys"]):
            row.append(key.get("value") or "")
            if labelled[i]:
                row.append(key.get("label") or "")
        if money:
            row.append(g.get("currency") or "")
        row += [v.get("value") or "" for v in g["values"]]
        rows.append(row)
    return rows


async def export_aggregate(request: Request) -> Response:
    state = request.scope.get("state", {})
    viewer = state.get("viewer")
    if viewer is None:
        return _error(401, "Authentication required.", ErrorCode.UNAUTHENTICATED)
    document = request.query_params.get("query") or ""
    if not document.strip() or len(document) > MAX_QUERY_CHARS:
        return _error(
            400,
            f"`query`: an aggregate query of at most {MAX_QUERY_CHARS} characters.",
            ErrorCode.BAD_USER_INPUT,
        )
    try:
        variables = orjson.loads(request.query_params.get("variables") or "null")
    except orjson.JSONDecodeError:
        return _error(400, "`variables`: not valid JSON.", ErrorCode.BAD_USER_INPUT)
    if variables is not None and not isinstance(variables, dict):
        return _error(400, "`variables`: a JSON object.", ErrorCode.BAD_USER_INPUT)
    loaders = Loaders(viewer)
    loaders.users.bits.prime(viewer.user.id, viewer.bits)
    context = Context(
        request=request,
        response=None,
        settings=request.app.state.config,
        viewer=viewer,
        loaders=loaders,
        request_id=state.get("request_id", ""),
        client_address=request.client.host if request.client else "unknown",
    )
    try:
        result = await request.app.state.schema.execute(
            document,
            variable_values=variables,
            context_value=context,
            # A GET never changes anything: mutations are refused before they run.
            allowed_operation_types={OperationType.QUERY},
        )
    except InvalidOperationTypeError:
        return _error(400, "`query`: only queries can be exported.", ErrorCode.BAD_USER_INPUT)
    if result.errors:
        errors = [e.formatted for e in result.errors]
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        status = (
            403
            if ErrorCode.FORBIDDEN in codes
            else 401
            if ErrorCode.UNAUTHENTICATED in codes
            else 400
        )
        return JSONResponse({"errors": errors}, status_code=status)
    data = result.data or {}
    found = [v for v in data.values() if isinstance(v, dict) and "groups" in v]
    if len(data) != 1 or len(found) != 1:
        return _error(400, "`query`: select exactly one aggregate field.", ErrorCode.BAD_USER_INPUT)
    body = CsvEncoder().encode(_rows(found[0]))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="aggregate.csv"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
