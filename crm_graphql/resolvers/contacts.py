"""Contacts: visible with their company, changed with edit access to it."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.contacts import Contact
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import belongs_to_visible_company_q
from crm_graphql.resolvers.common import (
    connection,
    editable_company,
    editable_contact,
    get_or_404,
    input_fields,
)
from crm_graphql.schema.common import Connection, DeletePayload, user_errors
from crm_graphql.schema.contacts import (
    CONTACT_DEFAULT_ORDER,
    CONTACT_FILTER_SPEC,
    ContactCreateInput,
    ContactFilter,
    ContactOrder,
    ContactPayload,
    ContactType,
    ContactUpdateInput,
)
from crm_graphql.services import contacts as service
from crm_graphql.services.mutations import atomic, refuse_nulls

DEFAULT_ORDER = CONTACT_DEFAULT_ORDER
Described = strawberry.argument


def visible_contacts(info: Info) -> Any:
    viewer = info.context.require_viewer()
    return Contact.filter(belongs_to_visible_company_q(viewer))


@strawberry.type
class ContactsQuery:
    @strawberry.field(
        description="Contacts of the companies you can see, filtered and sorted.",
        extensions=auth("CR"),
    )
    async def contacts(
        self,
        info: Info,
        filter: Annotated[ContactFilter | None, Described(description="Conditions.")] = None,
        order_by: Annotated[
            list[ContactOrder] | None, Described(description="Sort keys (default: name).")
        ] = None,
        first: Annotated[int | None, Described(description="Page size.")] = None,
        after: Annotated[str | None, Described(description="Cursor before the page.")] = None,
    ) -> Connection[ContactType]:
        return await connection(
            info,
            visible_contacts(info),
            flt=filter,
            spec=CONTACT_FILTER_SPEC,
            order_by=order_by,
            default_order=DEFAULT_ORDER,
            first=first,
            after=after,
        )

    @strawberry.field(description="One contact you can see.", extensions=auth("CR"))
    async def contact(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> ContactType:
        return await get_or_404(Contact, visible_contacts(info), id)


@strawberry.type
class ContactsMutation:
    @strawberry.mutation(
        description="Add a contact to a company you can edit.", extensions=auth("CW")
    )
    async def contact_create(
        self, info: Info, input: Annotated[ContactCreateInput, Described(description="Values.")]
    ) -> ContactPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> Contact:
            company = await editable_company(info, data.pop("company_id"), "companyId")
            return await service.create_contact(viewer, company.id, data, info.context.request_id)

        contact, errors = await atomic(work)
        return ContactPayload(contact=contact, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change a contact of a company you can edit.", extensions=auth("CW")
    )
    async def contact_update(
        self, info: Info, input: Annotated[ContactUpdateInput, Described(description="Changes.")]
    ) -> ContactPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> Contact:
            contact = await editable_contact(info, data.pop("id"))
            refuse_nulls(Contact, {k: v for k, v in data.items() if k != "company_id"})
            if data.get("company_id") is not None:
                data["company_id"] = (
                    await editable_company(info, data["company_id"], "companyId")
                ).id
            elif "company_id" in data:
                raise FieldError("companyId", ErrorCode.REQUIRED, "A contact needs a company.")
            return await service.update_contact(viewer, contact, data, info.context.request_id)

        contact, errors = await atomic(work)
        return ContactPayload(contact=contact, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a contact of a company you can edit.", extensions=auth("CW")
    )
    async def contact_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            contact = await editable_contact(info, id)
            await service.delete_contact(viewer, contact, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
