"""Activities on companies and contacts."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import parse_id
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.permissions.activities import can_change_activity, can_write_activity
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import belongs_to_visible_company_q
from crm_graphql.resolvers.common import editable_company, input_fields
from crm_graphql.schema.activities import ActivityCreateInput, ActivityPayload, ActivityUpdateInput
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.services import activities as service
from crm_graphql.services.mutations import atomic, refuse_nulls

Described = strawberry.argument


async def changeable_activity(info: Info, activity_id: strawberry.ID) -> Activity:
    viewer = info.context.require_viewer()
    activity = await Activity.filter(
        belongs_to_visible_company_q(viewer), id=parse_id(activity_id, "id")
    ).first()
    if activity is None:
        raise FieldError("id", ErrorCode.NOT_FOUND, "No such activity.")
    company = await Company.get(id=activity.company_id)
    if not can_change_activity(viewer, company, activity):
        raise info.context.deny(f"Activity {activity.id}", "not its author")
    return activity


@strawberry.type
class ActivitiesMutation:
    @strawberry.mutation(
        description="Write an activity on a company or a contact (edit access to the company).",
        extensions=auth("CW"),
    )
    async def activity_create(
        self, info: Info, input: Annotated[ActivityCreateInput, Described(description="Values.")]
    ) -> ActivityPayload:
        viewer = info.context.require_viewer()

        async def work() -> Activity:
            contact_id = None
            if input.contact_id is not None:
                contact = (
                    await Contact.filter(belongs_to_visible_company_q(viewer))
                    .filter(id=parse_id(input.contact_id, "contactId"))
                    .first()
                )
                if contact is None:
                    raise FieldError("contactId", ErrorCode.NOT_FOUND, "No such contact.")
                company_ref: object = contact.company_id
                contact_id = contact.id
            elif input.company_id is not None:
                company_ref = input.company_id
            else:
                raise FieldError("companyId", ErrorCode.REQUIRED, "Give companyId or contactId.")
            company = await editable_company(info, company_ref, "companyId")
            if not can_write_activity(viewer, company):
                raise info.context.deny(f"Company {company.id}", "activity not allowed")
            return await service.add_activity(
                viewer, company.id, input.text, contact_id, info.context.request_id
            )

        activity, errors = await atomic(work)
        return ActivityPayload(activity=activity, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change an activity's text (its author, or CM).", extensions=auth("CW")
    )
    async def activity_update(
        self,
        info: Info,
        input: Annotated[
            ActivityUpdateInput, Described(description="The activity and its changes.")
        ],
    ) -> ActivityPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> Activity:
            activity = await changeable_activity(info, data.pop("id"))
            refuse_nulls(Activity, data)
            if "text" not in data:
                return activity
            return await service.update_activity(
                viewer, activity, data["text"], info.context.request_id
            )

        activity, errors = await atomic(work)
        return ActivityPayload(activity=activity, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete an activity (its author, or CM).", extensions=auth("CW")
    )
    async def activity_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The activity.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            activity = await changeable_activity(info, id)
            await service.delete_activity(viewer, activity, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
