"""Errors the API shows to clients as GraphQL errors with `extensions.code`.

Anything that is not one of these is masked before it leaves the server."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class ApiError(GraphQLError):
    code = "BAD_REQUEST"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Authentication required.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class Forbidden(ApiError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "You are not allowed to do this.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class NotFound(ApiError):
    code = "NOT_FOUND"

    def __init__(self, message: str = "Not found.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


def is_client_error(error: GraphQLError) -> bool:
    """True when the error is safe to show: ours, or a GraphQL syntax/validation error."""
    original = error.original_error
    if original is None:
        return True  # parse and validation errors carry no Python exception
    if isinstance(original, ApiError):
        return True
    # graphql-core wraps variable and argument coercion errors in a GraphQLError of its own.
    return isinstance(original, GraphQLError) and is_client_error(original)


class FieldError(Exception):
    """A problem the client can fix, reported in a mutation payload's `errors`."""

    def __init__(self, field: str | None, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


class PayloadErrors(Exception):
    """Raised inside a mutation's transaction to roll it back and report `errors`."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


class QueryTimeout(ApiError):
    """The request's database work outlived its deadline (services/deadline.py) and was
    stopped; a mutation that hit it was rolled back."""

    code = "TIMEOUT"


class WriteNotApplied(ApiError):
    """The connection to the database broke while committing, and the database says
    the transaction did not commit: nothing was written; the client may retry."""

    code = "DATABASE_UNAVAILABLE"


class OutcomeUnknown(ApiError):
    """The connection broke while committing and the database could not be asked
    whether the transaction committed: look before retrying."""

    code = "OUTCOME_UNKNOWN"
