"""Errors the API shows to clients as GraphQL errors with `extensions.code`.

Anything that is not one of these is masked before it leaves the server."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from graphql import GraphQLError


class ErrorCode(StrEnum):
    """Every error code the API gives: in a mutation payload's `errors { code }` (the
    GraphQL enum `ErrorCode`) and in a GraphQL error's `extensions.code` (documented by
    the enum `GraphQLErrorCode`). Values are the strings clients see."""

    # Payload errors: a problem with the input, which the client can fix.
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    UNIQUE = "UNIQUE"
    NOT_FOUND = "NOT_FOUND"
    STALE = "STALE"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_LARGE = "TOO_LARGE"
    DUPLICATE = "DUPLICATE"
    RENDER_FAILED = "RENDER_FAILED"
    # GraphQL errors (`extensions.code`), some shared with the payload codes above.
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    TIMEOUT = "TIMEOUT"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # Codes of the JSON errors of the HTTP endpoints (same body shape as GraphQL errors).
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PDF_PENDING = "PDF_PENDING"
    PDF_FAILED = "PDF_FAILED"
    # The PDF renderer's own reasons, turned into RENDER_FAILED before a client sees them.
    NO_BROWSER = "NO_BROWSER"
    BUSY = "BUSY"


# The codes of payload errors (`UserError.code`), with what each means to a client.
PAYLOAD_CODES: dict[ErrorCode, str] = {
    ErrorCode.INVALID: "The value is not acceptable.",
    ErrorCode.REQUIRED: "A value is required.",
    ErrorCode.UNIQUE: "The value is already taken.",
    ErrorCode.NOT_FOUND: "The referenced object is gone.",
    ErrorCode.STALE: "The object changed since you read it; reload and retry.",
    ErrorCode.CONFLICT: "The object's state does not allow this change.",
    ErrorCode.FORBIDDEN: "You may not set this value.",
    ErrorCode.INVALID_CREDENTIALS: "Wrong username or password.",
    ErrorCode.RATE_LIMITED: "Too many attempts; wait and retry.",
    ErrorCode.TOO_LARGE: "The value is too large.",
    ErrorCode.DUPLICATE: "Another object has this value and duplicates were refused.",
    ErrorCode.RENDER_FAILED: "The PDF could not be rendered (no browser installed, time "
    "limit, broken document); the message says which. Nothing was changed.",
}

# The codes of GraphQL errors (`errors[].extensions.code`), and of the JSON errors of
# the HTTP endpoints, with what each means to a client.
GRAPHQL_CODES: dict[ErrorCode, str] = {
    ErrorCode.BAD_REQUEST: "The request is malformed (headers, body, CSRF check, idempotency key).",
    ErrorCode.BAD_USER_INPUT: "An argument or variable has a value the API refuses.",
    ErrorCode.UNAUTHENTICATED: "No valid token or session: sign in.",
    ErrorCode.FORBIDDEN: "You may not do this, or not with this token's scope.",
    ErrorCode.NOT_FOUND: "No such object, or not one you may see.",
    ErrorCode.CONFLICT: "The request conflicts with another (e.g. an idempotency key "
    "reused for a different request, or still running).",
    ErrorCode.TOO_LARGE: "The request or upload is larger than allowed.",
    ErrorCode.RATE_LIMITED: "Too many requests; wait and retry.",
    ErrorCode.QUERY_TOO_COMPLEX: "The query exceeds a limit (cost, depth, aliases, "
    "tokens, selections); `extensions.limit` says which value.",
    ErrorCode.GRAPHQL_PARSE_FAILED: "The document is not valid GraphQL syntax.",
    ErrorCode.GRAPHQL_VALIDATION_FAILED: "The document does not match the schema.",
    ErrorCode.TIMEOUT: "The request's database work outlived its deadline and was "
    "stopped; a mutation that hit it was rolled back.",
    ErrorCode.DATABASE_UNAVAILABLE: "The database connection broke while committing and "
    "nothing was written: retry.",
    ErrorCode.OUTCOME_UNKNOWN: "The database connection broke while committing and "
    "whether it committed is unknown: look before retrying.",
    ErrorCode.INTERNAL_SERVER_ERROR: "An unexpected server error; `extensions.requestId` "
    "identifies it in the server log.",
    ErrorCode.PAYLOAD_TOO_LARGE: "The request body is larger than the server accepts.",
    ErrorCode.SERVICE_UNAVAILABLE: "The server is overloaded or shutting down; retry later.",
    ErrorCode.METHOD_NOT_ALLOWED: "The HTTP method is not allowed on this path.",
    ErrorCode.IDEMPOTENCY_KEY_INVALID: "The Idempotency-Key header is malformed.",
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: "A request with this Idempotency-Key is still running.",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "This Idempotency-Key was used for a different request.",
    ErrorCode.PDF_PENDING: "The document's PDF is being rendered; try again shortly.",
    ErrorCode.PDF_FAILED: "The document's PDF could not be rendered.",
}

# Codes used inside the server only; a client never sees them.
INTERNAL_CODES: dict[ErrorCode, str] = {
    ErrorCode.NO_BROWSER: "No browser is installed for PDF rendering.",
    ErrorCode.BUSY: "The PDF renderer is busy.",
}


class ApiError(GraphQLError):
    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(ApiError):
    code = ErrorCode.UNAUTHENTICATED

    def __init__(self, message: str = "Authentication required.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN

    def __init__(self, message: str = "You are not allowed to do this.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND

    def __init__(self, message: str = "Not found.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class BadUserInput(ApiError):
    code = ErrorCode.BAD_USER_INPUT


class QueryTooComplex(ApiError):
    code = ErrorCode.QUERY_TOO_COMPLEX


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

    def __init__(self, field: str | None, code: ErrorCode, message: str) -> None:
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

    code = ErrorCode.TIMEOUT


class WriteNotApplied(ApiError):
    """The connection to the database broke while committing, and the database says
    the transaction did not commit: nothing was written; the client may retry."""

    code = ErrorCode.DATABASE_UNAVAILABLE


class OutcomeUnknown(ApiError):
    """The connection broke while committing and the database could not be asked
    whether the transaction committed: look before retrying."""

    code = ErrorCode.OUTCOME_UNKNOWN
