"""Types of the change feed and record history (issue 16)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from crm_graphql.context import Info
from crm_graphql.dataloaders.events import HISTORY_ORDER
from crm_graphql.models.events import Event, EventAction, EventObjectType
from crm_graphql.models.users import User
from crm_graphql.schema.common import USER_TYPE, Connection, nested_connection


@strawberry.enum(description="The kinds of object the change feed reports.")
class ChangeObjectType(Enum):
    COMPANY = strawberry.enum_value("COMPANY", description="A company.")
    CONTACT = strawberry.enum_value("CONTACT", description="A contact.")
    CONTRACT = strawberry.enum_value("CONTRACT", description="A contract.")
    INVOICE = strawberry.enum_value("INVOICE", description="An invoice (status, lock included).")
    LEAD = strawberry.enum_value("LEAD", description="A lead.")
    ACTIVITY = strawberry.enum_value("ACTIVITY", description="A company activity.")
    FILE = strawberry.enum_value("FILE", description="An attached file.")


@strawberry.enum(description="What happened to the object.")
class ChangeAction(Enum):
    CREATE = strawberry.enum_value("CREATE", description="It was created.")
    UPDATE = strawberry.enum_value("UPDATE", description="It was changed.")
    DELETE = strawberry.enum_value("DELETE", description="It was deleted (a tombstone).")


_CURSOR_TAG = "change:"


def encode_change_cursor(event_id: int) -> str:
    """An event's opaque position in the feed."""
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{event_id}".encode()).decode().rstrip("=")


def decode_change_cursor(cursor: str) -> int | None:
    """The event id of a cursor made by `encode_change_cursor`; None: not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith(_CURSOR_TAG) or not text[len(_CURSOR_TAG) :].isdigit():
        return None
    number = int(text[len(_CURSOR_TAG) :])
    return number if 0 < number < 2**63 else None


@strawberry.type(
    name="Change",
    description="One change of an object: created, updated, or deleted (a tombstone, "
    "with no values).",
)
class ChangeType:
    created_at: datetime = strawberry.field(description="When the change was saved (UTC).")
    changes: JSON = strawberry.field(
        description="The changed fields as {field: [old, new]} (API field names; money as "
        "decimal strings, dates in ISO 8601); empty for a deletion. Secrets and invoices' "
        "internal notes are never included."
    )

    @strawberry.field(description="The change's id (its place in the feed).")
    def id(self, root: strawberry.Parent[Event]) -> strawberry.ID:
        return strawberry.ID(str(root.id))

    @strawberry.field(description="The changed object's kind.")
    def object_type(self, root: strawberry.Parent[Event]) -> ChangeObjectType:
        return ChangeObjectType(root.object_type)

    @strawberry.field(description="The changed object's id.")
    def object_id(self, root: strawberry.Parent[Event]) -> strawberry.ID:
        return strawberry.ID(str(root.object_id))

    @strawberry.field(description="Created, updated or deleted.")
    def action(self, root: strawberry.Parent[Event]) -> ChangeAction:
        return ChangeAction(root.action)

    @strawberry.field(description="True for a deletion: the object is gone.")
    def deleted(self, root: strawberry.Parent[Event]) -> bool:
        return root.action == EventAction.DELETE

    @strawberry.field(
        description="Who made the change (null: the system, or a user since deleted)."
    )
    def actor_id(self, root: strawberry.Parent[Event]) -> strawberry.ID | None:
        return None if root.actor_id is None else strawberry.ID(str(root.actor_id))

    @strawberry.field(
        description="Who made the change, when you may see that user.",
        graphql_type=USER_TYPE | None,
    )
    async def actor(self, root: strawberry.Parent[Event], info: Info) -> User | None:
        if root.actor_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.actor_id)

    @strawberry.field(description="Cursor of this change; pass it as `after` to read on.")
    def cursor(self, root: strawberry.Parent[Event]) -> str:
        return encode_change_cursor(int(root.id))


HistoryFirst = Annotated[
    int | None,
    strawberry.argument(description="How many, newest first (default 10, at most 50)."),
]


async def history_connection(
    info: Info, kind: EventObjectType, object_id: int, first: int | None
) -> Connection[ChangeType]:
    """An object's change log, newest first: one statement for all the objects of a page."""
    loaders = info.context.loaders.events
    return await nested_connection(
        info, loaders.pages[kind], loaders.counts[kind], object_id, first, HISTORY_ORDER
    )
