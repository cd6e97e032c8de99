"""Activity types: dated notes on companies and contacts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.users import User
from crm_graphql.permissions.activities import can_change_activity
from crm_graphql.schema.common import COMPANY_TYPE, USER_TYPE, UserError

if TYPE_CHECKING:
    from crm_graphql.schema.contacts import ContactType


@strawberry.type(description="What you may do with an activity.")
class ActivityViewerCan:
    edit: bool = strawberry.field(description="Change it (activityUpdate; its author, or CM).")
    delete: bool = strawberry.field(description="Delete it (its author, or CM).")


@strawberry.type(name="Activity", description="A dated note on a company or one of its contacts.")
class ActivityType:
    id: strawberry.ID = strawberry.field(description="Activity id.")
    created_at: datetime = strawberry.field(description="When it was written.")
    updated_at: datetime = strawberry.field(description="Last change.")
    text: str = strawberry.field(description="The note.")

    @strawberry.field(description="The company it is about.", graphql_type=COMPANY_TYPE | None)
    async def company(self, root: strawberry.Parent[Activity], info: Info) -> Company | None:
        return await info.context.loaders.companies.company.load(root.company_id)

    @strawberry.field(
        description="The contact it is about, if any.",
        graphql_type=Annotated["ContactType", strawberry.lazy("crm_graphql.schema.contacts")]
        | None,
    )
    async def contact(self, root: strawberry.Parent[Activity], info: Info) -> Contact | None:
        if root.contact_id is None:
            return None
        return await info.context.loaders.companies.contact.load(root.contact_id)

    @strawberry.field(description="Who wrote it.", graphql_type=USER_TYPE | None)
    async def author(self, root: strawberry.Parent[Activity], info: Info) -> User | None:
        if root.author_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.author_id)

    @strawberry.field(description="What you may do with this activity.")
    async def viewer_can(self, root: strawberry.Parent[Activity], info: Info) -> ActivityViewerCan:
        # One rule for both: the author, or CM over the company (permissions/activities.py).
        allowed = await _may_change(info, root)
        return ActivityViewerCan(edit=allowed, delete=allowed)

    @strawberry.field(
        description="You may change or delete it (its author, or CM).",
        deprecation_reason="Use viewerCan { edit delete }",
    )
    async def viewer_can_change(self, root: strawberry.Parent[Activity], info: Info) -> bool:
        return await _may_change(info, root)


async def _may_change(info: Info, root: Activity) -> bool:
    viewer = info.context.viewer
    company = await info.context.loaders.companies.company.load(root.company_id)
    return bool(viewer and company and can_change_activity(viewer, company, root))


@strawberry.input(description="A new activity: on a company, or on a contact.")
class ActivityCreateInput:
    company_id: strawberry.ID | None = strawberry.field(
        default=None, description="The company (give this or contactId)."
    )
    contact_id: strawberry.ID | None = strawberry.field(
        default=None, description="The contact (its company is implied)."
    )
    text: str = strawberry.field(description="The note (not empty).")


@strawberry.input(description="Changes to an activity: only the fields given change.")
class ActivityUpdateInput:
    id: strawberry.ID = strawberry.field(description="The activity.")
    text: str | None = strawberry.field(
        default=strawberry.UNSET, description="The new text (not empty)."
    )


@strawberry.type(description="Result of activityCreate or activityUpdate.")
class ActivityPayload:
    activity: Activity | None = strawberry.field(
        graphql_type=ActivityType | None, description="The activity."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
