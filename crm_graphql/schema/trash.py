"""Types of the trash: its entries and the restore and purge payloads."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from crm_graphql.context import Info
from crm_graphql.models.trash import TrashEntry
from crm_graphql.models.users import User
from crm_graphql.schema.common import USER_TYPE, UserError
from crm_graphql.services.listing import SortKey

# The trash list's order: the latest deletion first.
TRASH_DEFAULT_ORDER = (SortKey("deleted_at", descending=True), SortKey("id", descending=True))


@strawberry.enum(description="What a trash entry holds.")
class TrashObjectType(Enum):
    COMPANY = strawberry.enum_value(
        "Company", description="A company, with its contacts, contracts, activities, files."
    )
    CONTACT = strawberry.enum_value("Contact", description="A contact, with its activities.")
    CONTRACT = strawberry.enum_value("Contract", description="A contract, with its links.")
    LEAD = strawberry.enum_value(
        "Lead", description="A lead, with its history, activities, tags and alarms."
    )


@strawberry.type(
    name="TrashEntry",
    description="A deleted record, kept until it is restored or purged (after "
    "`CRM_TRASH_DAYS` days at the latest).",
)
class TrashEntryType:
    id: strawberry.ID = strawberry.field(
        description="The entry's id (what restore and purge take)."
    )
    object_type: TrashObjectType = strawberry.field(name="type", description="The kind of record.")
    object_id: strawberry.ID = strawberry.field(
        description="The record's id, which it gets back when restored."
    )
    label: str = strawberry.field(
        description="Its name (a contract: its reference) when it was deleted."
    )
    deleted_at: datetime = strawberry.field(description="When it was deleted.")

    @strawberry.field(
        description="Who deleted it (null: a user deleted since).", graphql_type=USER_TYPE | None
    )
    async def deleted_by(self, root: strawberry.Parent[TrashEntry], info: Info) -> User | None:
        if root.deleted_by_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.deleted_by_id)


@strawberry.type(description="A record put back by `restore`.")
class RestoredRecord:
    object_type: TrashObjectType = strawberry.field(name="type", description="Its kind.")
    object_id: strawberry.ID = strawberry.field(description="Its id (the one it had).")


@strawberry.type(description="Result of `restore`: all entries, or none.")
class TrashRestorePayload:
    restored: list[RestoredRecord] = strawberry.field(
        description="What came back; empty when anything was refused."
    )
    errors: list[UserError] = strawberry.field(
        description="Why an entry cannot be restored, on `ids.<position>`; then nothing is."
    )


@strawberry.type(description="Result of `purge`: all entries, or none.")
class TrashPurgePayload:
    purged_ids: list[strawberry.ID] = strawberry.field(
        description="The entries deleted for good; empty when anything was refused."
    )
    errors: list[UserError] = strawberry.field(
        description="Why an entry cannot be purged, on `ids.<position>`; then nothing is."
    )
