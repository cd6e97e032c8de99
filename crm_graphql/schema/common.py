"""Types every domain shares: payload errors, connections, scalar filters, ordering."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, cast

import strawberry

from crm_graphql.errors import GRAPHQL_CODES, PAYLOAD_CODES, BadUserInput, ErrorCode, FieldError
from crm_graphql.ids import MIN_COLUMN_INT, id_number, shown
from crm_graphql.services.listing import ListError, SortKey, encode_cursor

if TYPE_CHECKING:
    from crm_graphql.schema.companies import CompanyType
    from crm_graphql.schema.users import UserType

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

# Object types of other modules, resolved when the schema is built: the `graphql_type=`
# of fields whose Python type is the Tortoise model they return.
USER_TYPE: Any = Annotated["UserType", strawberry.lazy("crm_graphql.schema.users")]
COMPANY_TYPE: Any = Annotated["CompanyType", strawberry.lazy("crm_graphql.schema.companies")]


def _documented_enum(name: str, codes: dict[ErrorCode, str], description: str) -> Any:
    """A GraphQL enum of some members of `ErrorCode`, each with its description."""
    members = {
        code.name: strawberry.enum_value(code, description=text) for code, text in codes.items()
    }
    # The functional API makes a class; mypy types the call as an instance.
    enum_class = cast(type[Enum], Enum(name, members))
    return strawberry.enum(enum_class, name=name, description=description)


# The GraphQL enums are documented subsets of the one Python enum `errors.ErrorCode`.
PayloadErrorCode = _documented_enum(
    "ErrorCode", PAYLOAD_CODES, "Why a mutation input was refused (`UserError.code`)."
)
GraphQLErrorCode = _documented_enum(
    "GraphQLErrorCode",
    GRAPHQL_CODES,
    "The values of `extensions.code` on a GraphQL error (and in the JSON error body of "
    "the HTTP endpoints). Not used as a field type: listed so the codes are documented.",
)


@strawberry.type(description="A problem with the input, which the client can fix.")
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault (camelCase), or null for the whole input."
    )
    code: ErrorCode = strawberry.field(
        description="Machine-readable reason.", graphql_type=PayloadErrorCode
    )
    message: str = strawberry.field(description="Human-readable explanation.")

    @classmethod
    def from_error(cls, error: FieldError) -> UserError:
        return cls(field=error.field, code=PayloadErrorCode(error.code), message=error.message)


def model_enum(kind: type[E], member: Enum) -> E:
    """The member of the model enum `kind` with the value of a GraphQL enum member.
    A member written `strawberry.enum_value(v, ...)` holds v at run time, though it is
    declared an EnumValueDefinition."""
    value: object = member.value
    return kind(value)


def user_errors(errors: list[FieldError]) -> list[UserError]:
    return [UserError.from_error(e) for e in errors]


@strawberry.type(description="Result of a delete mutation.")
class DeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="Id of the deleted object; null when nothing was deleted."
    )
    errors: list[UserError] = strawberry.field(description="Why it was not deleted.")


@strawberry.type(description="Where this page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Rows precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as `after` for the next page."
    )


@strawberry.type(description="One row of a list, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque keyset cursor of this row.")
    node: T = strawberry.field(description="The row.")


@strawberry.type(description="A page of a list, with keyset cursors and the total count.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The rows of this page.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of rows the filter matches, across all pages.")
    async def total_count(self) -> int:
        return await self._count()


@strawberry.enum(description="Sort direction.")
class SortDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Ascending.")
    DESC = strawberry.enum_value("DESC", description="Descending.")


@strawberry.input(description="Conditions on a text value; all given conditions must hold.")
class StringFilter:
    eq: str | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    neq: str | None = strawberry.field(default=strawberry.UNSET, description="Not equal to.")
    in_: list[str] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Equal to one of."
    )
    contains: str | None = strawberry.field(
        default=strawberry.UNSET, description="Contains, ignoring case."
    )
    lt: str | None = strawberry.field(default=strawberry.UNSET, description="Less than.")
    lte: str | None = strawberry.field(default=strawberry.UNSET, description="At most.")
    gt: str | None = strawberry.field(default=strawberry.UNSET, description="Greater than.")
    gte: str | None = strawberry.field(default=strawberry.UNSET, description="At least.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no value. False: has a value."
    )


@strawberry.input(description="Conditions on an integer; all given conditions must hold.")
class IntFilter:
    eq: int | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    neq: int | None = strawberry.field(default=strawberry.UNSET, description="Not equal to.")
    in_: list[int] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Equal to one of."
    )
    lt: int | None = strawberry.field(default=strawberry.UNSET, description="Less than.")
    lte: int | None = strawberry.field(default=strawberry.UNSET, description="At most.")
    gt: int | None = strawberry.field(default=strawberry.UNSET, description="Greater than.")
    gte: int | None = strawberry.field(default=strawberry.UNSET, description="At least.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no value. False: has a value."
    )


@strawberry.input(description="Conditions on an id; all given conditions must hold.")
class IDFilter:
    eq: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    neq: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Not equal to."
    )
    in_: list[strawberry.ID] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="Equal to one of."
    )
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no value. False: has a value."
    )

    @staticmethod
    def coerce(value: object) -> object:
        """Ids are numbers in SQL; a malformed one is the client's error, not a 500."""
        if isinstance(value, list):
            return [IDFilter.coerce(v) for v in value]
        if isinstance(value, bool):
            return value
        # Out of the id column's range SQLite and PostgreSQL would fail on it.
        number = id_number(value, minimum=MIN_COLUMN_INT)
        if number is None:
            raise ListError(f"'{shown(value)}' is not a valid id.")
        return number


@strawberry.input(description="Conditions on a true/false value.")
class BooleanFilter:
    eq: bool | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    neq: bool | None = strawberry.field(default=strawberry.UNSET, description="Not equal to.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no value. False: has a value."
    )


@strawberry.input(description="Conditions on a date and time; all given conditions must hold.")
class DateTimeFilter:
    eq: datetime | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    neq: datetime | None = strawberry.field(default=strawberry.UNSET, description="Not equal to.")
    lt: datetime | None = strawberry.field(default=strawberry.UNSET, description="Before.")
    lte: datetime | None = strawberry.field(default=strawberry.UNSET, description="At or before.")
    gt: datetime | None = strawberry.field(default=strawberry.UNSET, description="After.")
    gte: datetime | None = strawberry.field(default=strawberry.UNSET, description="At or after.")
    is_null: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has no value. False: has a value."
    )

    @staticmethod
    def coerce(value: object) -> object:
        """Times compare in UTC: SQLite compares the stored UTC text, so an instant given
        with another offset must be converted first. A time without offset is UTC."""
        if isinstance(value, list):
            return [DateTimeFilter.coerce(v) for v in value]
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        return value


def page_size(first: int | None, default: int, cap: int) -> int:
    """The page size asked for, or the default; outside 0..cap is the client's error."""
    if first is None:
        return default
    if first < 0 or first > cap:
        raise BadUserInput(f"`first` must be between 0 and {cap}.", field="first")
    return first


nested_page_size = page_size


async def nested_connection(
    info: Any,
    pages: Any,
    counts: Any,
    parent_id: int,
    first: int | None,
    keys: Sequence[SortKey],
) -> Connection[Any]:
    """A nested list under one parent: the page size from `first` within the nested
    limits, the rows from `pages` (a loader keyed by (parent id, size)), the total
    from `counts` (a loader keyed by parent id), loaded only when selected."""
    limits = info.context.settings.limits
    size = page_size(first, limits.nested_page_size_default, limits.nested_page_size_max)
    rows = await pages.load((parent_id, size))
    return per_parent_connection(rows, size, keys, lambda: counts.load(parent_id))


def per_parent_connection(
    rows: Sequence[Any],
    size: int,
    keys: Sequence[SortKey],
    count: Callable[[], Awaitable[int]],
) -> Connection[Any]:
    """A nested list's connection from rows fetched `size + 1` per parent."""
    page = rows[:size]
    edges = [Edge(cursor=encode_cursor(r, keys), node=r) for r in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )


@strawberry.input(description="Conditions on a related company.")
class CompanyRefFilter:
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="Company id.")
    name: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Company name."
    )


@strawberry.input(description="Conditions on a related user.")
class UserRefFilter:
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="User id.")
    username: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Login name."
    )
