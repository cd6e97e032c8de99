"""What errors a client sees: unexpected errors masked (logged with the request id),
no "Did you mean" hints, every error with a code, and at most so many errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import ValidationError

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors, is_client_error
from crm_graphql.services.mutations import validation_field_error

log = logging.getLogger("crm_graphql.errors")


def truncate_errors(errors: list[GraphQLError], limit: int) -> list[GraphQLError]:
    """At most `limit` errors: the first `limit - 1`, then one saying how many more
    there were (with the code of the first one left out)."""
    if len(errors) <= limit:
        return errors
    kept = errors[: max(limit - 1, 0)]
    rest = errors[len(kept) :]
    code = (rest[0].extensions or {}).get("code") or default_code(rest[0])
    kept.append(
        GraphQLError(
            f"{rest[0].message} (and {len(rest) - 1} more errors, left out: a response "
            f"lists at most {limit}).",
            nodes=rest[0].nodes,
            extensions={"code": code, "omittedErrors": len(rest) - 1},
        )
    )
    return kept


# graphql-core's hints: "Did you mean 'first'?", "Did you mean the enum value 'ASC'?",
# "Did you mean 'a', 'b', or 'c'?". Names cannot hold "?", so the hint ends at the first.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """`message` without graphql-core's "Did you mean ...?" hints."""
    return _SUGGESTION.sub("", message)


def is_safe_error(error: GraphQLError) -> bool:
    """True when `error` may reach the client as it is: one of ours, a syntax or
    validation error, or an input coercion error. graphql-core reports a variable that
    does not fit its type ("Variable '$n' has invalid value: Int cannot represent ...")
    as an error whose `original_error` is the GraphQLError the scalar, enum or input
    type raised; those are the client's to fix, not internal errors."""
    if is_client_error(error):
        return True
    original = error.original_error
    return isinstance(original, GraphQLError) and is_safe_error(original)


def default_code(error: GraphQLError) -> ErrorCode:
    """A code for graphql-core's own errors, which carry none: every error a client
    gets has `extensions.code`."""
    message = error.message
    if (
        "maximum operation depth" in message
        or "aliases found" in message
        or ("tokens" in message and "limit" in message.lower())
    ):
        return ErrorCode.QUERY_TOO_COMPLEX
    if message.startswith("Syntax Error"):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if error.message.startswith("Variable '$") or error.path is not None:
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.GRAPHQL_VALIDATION_FAILED


def field_error(error: GraphQLError) -> GraphQLError | None:
    """A `FieldError` (or `PayloadErrors`) that escaped a resolver with no payload to
    carry it, e.g. a malformed id argument of a query, as the client error it is:
    BAD_USER_INPUT naming the field, with the payload code as `reason`."""
    original = error.original_error
    if isinstance(original, PayloadErrors) and original.errors:
        original = original.errors[0]
    if isinstance(original, ValidationError):
        original = validation_field_error(original)
    if not isinstance(original, FieldError):
        return None
    extensions: dict[str, Any] = {"code": ErrorCode.BAD_USER_INPUT, "reason": original.code}
    if original.field:
        extensions["field"] = original.field
    message = original.message
    if original.field and original.field not in message:
        message = f"{original.field}: {message}"
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)


class MaskUnexpectedErrors(SchemaExtension):
    """Unexpected exceptions reach the client as "Internal error" with the request id;
    the traceback goes to the log under that id.

    In production, the "Did you mean ...?" hints are also cut from every error: they
    reveal field, argument, input field and enum value names the schema would otherwise
    keep to itself when introspection is off. (StrawberryConfig's
    `disable_field_suggestions` only covers unknown fields.)"""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "")
        production = bool(getattr(getattr(context, "settings", None), "production", False))
        masked: list[GraphQLError] = []
        for error in errors:
            if is_safe_error(error):
                if production and "Did you mean" in error.message:
                    error.message = without_suggestions(error.message)
                if not (error.extensions or {}).get("code"):
                    error.extensions = {**(error.extensions or {}), "code": default_code(error)}
                masked.append(error)
                continue
            client_error = field_error(error)
            if client_error is not None:
                masked.append(client_error)
                continue
            log.error(
                "request %s: unexpected error at %s",
                request_id,
                error.path,
                exc_info=error.original_error,
            )
            masked.append(
                GraphQLError(
                    "Internal error. Quote the request id when reporting it.",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR, "requestId": request_id},
                )
            )
        result.errors = masked
