"""`Idempotency-Key` on POST /graphql mutations (as Stripe and the IETF draft
"The Idempotency-Key HTTP Header Field" do).

A client that sends a mutation with the header and loses the answer (timeout, dropped
connection) retries with the same key and gets the original response, and the work is
done once. Keys are per user and kept `Settings.idempotency_ttl_hours`.

- The key is claimed first, in a short transaction of its own (a PENDING row with a
  lease), so a concurrent retry sees it and gets 409 `IDEMPOTENCY_KEY_IN_USE`.
- The request then runs inside one transaction, and the response is stored in that same
  transaction (DONE): a committed write always has its stored answer, and a request
  that rolled back leaves no answer, so its retry runs again.
- The same key with a different request (another body, after normalising JSON key
  order) gets 422 `IDEMPOTENCY_KEY_REUSED`.
- A response with a transient error (`INTERNAL_SERVER_ERROR`, `TIMEOUT`) is not stored:
  the whole request is rolled back (no mutation of it is kept), the key released, and
  the client gets 503 with that code, free to retry with the same key.
- A PENDING key whose lease ran out (its process died) is taken over by the next retry;
  the dead request's writes were never committed, since DONE commits with them."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crm_graphql.errors import ErrorCode
from crm_graphql.models.idempotency import IdempotencyKey
from crm_graphql.services.files.transactions import file_transaction
from crm_graphql.settings import Settings

log = logging.getLogger(__name__)
HEADER = "idempotency-key"
# Visible ASCII, as the draft's examples (UUIDs, random tokens).
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_BOUNDARY_RE = re.compile(r"boundary=(\"[^\"]+\"|[^;\s]+)", re.IGNORECASE)
# Error codes that say "try again": such an answer is never stored.
TRANSIENT_CODES = frozenset(
    {ErrorCode.INTERNAL_SERVER_ERROR, ErrorCode.TIMEOUT, ErrorCode.SERVICE_UNAVAILABLE}
)


def _error(status: int, code: ErrorCode, message: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claim:
    """This request holds the key: row `row_id` with lease `token`."""

    row_id: int
    token: str


class _LostClaim(Exception):
    """The lease ran out and another request took the key over."""


class _Transient(Exception):
    def __init__(self, code: ErrorCode) -> None:
        self.code = code


def request_hash(body: bytes, content_type: str) -> str:
    """The request's fingerprint: JSON normalised (key order, whitespace); multipart
    uploads byte for byte but for the boundary, which clients pick anew per request."""
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip() == "application/json":
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    elif media_type.strip().startswith("multipart/"):
        boundary = _BOUNDARY_RE.search(parameters)
        if boundary:
            body = body.replace(b"--" + boundary.group(1).strip('"').encode(), b"--BOUNDARY")
    return hashlib.sha256(media_type.strip().encode() + b"\n" + body).hexdigest()


def _is_mutation_document(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        return False
    try:
        document = parse(data["query"], max_tokens=100_000)
    except GraphQLError:
        return False  # the GraphQL layer reports it
    wanted = data.get("operationName")
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            not wanted or (definition.name and definition.name.value == wanted)
        ):
            return definition.operation == OperationType.MUTATION
    return False


def is_mutation(body: bytes, content_type: str) -> bool:
    """Whether the request runs a mutation (any of a batch); multipart requests are
    uploads, which are mutations."""
    if content_type.startswith("multipart/"):
        return True
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    items = data if isinstance(data, list) else [data]
    return any(_is_mutation_document(item) for item in items)


def lease_seconds(config: Settings) -> float:
    """How long a running request holds its key: well past its own deadline."""
    budget = config.query_timeout_seconds or 300.0
    return 2 * (budget + config.pdf_timeout_seconds) + 30


async def claim(user_id: int, key: str, digest: str, config: Settings) -> Claim | Response:
    """Take the key for this request, or the response to give instead (the stored
    answer, or a refusal)."""
    for _ in range(2):
        try:
            return await _claim_once(user_id, key, digest, config)
        except IntegrityError:
            continue  # a concurrent first use inserted it: look again
    return _in_use()


def _in_use() -> Response:
    return _error(
        409,
        ErrorCode.IDEMPOTENCY_KEY_IN_USE,
        "A request with this Idempotency-Key is still running; retry in a moment.",
        **{"Retry-After": "1"},
    )


async def _claim_once(user_id: int, key: str, digest: str, config: Settings) -> Claim | Response:
    moment = _now()
    token = secrets.token_hex(16)
    lease_until = moment + timedelta(seconds=lease_seconds(config))
    async with in_transaction():
        row = await IdempotencyKey.filter(user_id=user_id, key=key).select_for_update().first()
        if row is not None and row.expires_at <= moment:
            await row.delete()
            row = None
        if row is None:
            # Expired keys of everyone go as new ones come (indexed on expires_at).
            await IdempotencyKey.filter(expires_at__lte=moment).delete()
            created = await IdempotencyKey.create(
                user_id=user_id,
                key=key,
                request_hash=digest,
                lease_token=token,
                lease_until=lease_until,
                expires_at=moment + timedelta(hours=config.idempotency_ttl_hours),
            )
            return Claim(created.id, token)
        if row.request_hash != digest:
            return _error(
                422,
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used with a different request; use a new key "
                "for a new request.",
            )
        if row.done:
            return Response(
                (row.response_body or "").encode(),
                status_code=row.response_status or 200,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        if row.lease_until > moment:
            return _in_use()
        # Its request died before committing (DONE commits with the writes): run again.
        await IdempotencyKey.filter(id=row.id, lease_token=row.lease_token).update(
            lease_token=token, lease_until=lease_until
        )
        return Claim(row.id, token)


async def _finish(held: Claim, response: Response) -> None:
    updated = await IdempotencyKey.filter(
        id=held.row_id, lease_token=held.token, done=False
    ).update(
        done=True,
        response_status=response.status_code,
        response_body=bytes(response.body).decode(),
    )
    if updated != 1:
        raise _LostClaim


async def _release(held: Claim) -> None:
    """Give the key back after a rollback, so a retry runs at once. Never touches a
    DONE row (its request did commit). If this fails too (the deadline is spent, the
    database is gone), the lease runs out instead."""
    try:
        await IdempotencyKey.filter(id=held.row_id, lease_token=held.token, done=False).delete()
    except Exception:
        log.warning("could not release idempotency key %s; its lease will run out", held.row_id)


def _transient_code(response: Response) -> ErrorCode | None:
    if response.status_code >= 500:
        return ErrorCode.SERVICE_UNAVAILABLE
    try:
        data = orjson.loads(bytes(response.body))
    except orjson.JSONDecodeError:
        return None
    for item in data if isinstance(data, list) else [data]:
        for error in (item.get("errors") or []) if isinstance(item, dict) else []:
            code = (error.get("extensions") or {}).get("code")
            if code in TRANSIENT_CODES:
                return ErrorCode(code)
    return None


async def respond(
    request: Request,
    key: str,
    run: Callable[[Request], Awaitable[Response]],
    config: Settings,
) -> Response:
    """Answer a POST carrying `Idempotency-Key: key`; `run` executes it normally."""
    if not _KEY_RE.match(key):
        return _error(
            400,
            ErrorCode.IDEMPOTENCY_KEY_INVALID,
            "The Idempotency-Key must be 1 to 255 visible ASCII characters.",
        )
    viewer = request.scope.get("state", {}).get("viewer")
    if viewer is None:
        return _error(
            401,
            ErrorCode.UNAUTHENTICATED,
            "An Idempotency-Key needs a bearer token: keys belong to a user.",
        )
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not is_mutation(body, content_type):
        return await run(request)  # reads are repeatable anyway
    outcome = await claim(viewer.user.id, key, request_hash(body, content_type), config)
    if isinstance(outcome, Response):
        return outcome
    try:
        # One transaction for the whole request and its stored answer; the mutations'
        # own transactions become savepoints in it.
        async with file_transaction():
            response = await run(request)
            code = _transient_code(response)
            if code is not None:
                raise _Transient(code)
            await _finish(outcome, response)
    except _Transient as exc:
        await _release(outcome)
        return _error(
            503,
            exc.code,
            "The request failed and nothing of it was saved; retry with the same Idempotency-Key.",
        )
    except _LostClaim:
        return _in_use()
    except BaseException:
        await _release(outcome)
        raise
    return response
