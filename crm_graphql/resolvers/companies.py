"""Companies and company roles. Reads filter through the company access rule in SQL;
writes check edit rights on the loaded company, then call the service."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import (
    can_create_company,
    can_delete_company,
    visible_companies_q,
)
from crm_graphql.permissions.invoices import can_see_invoice_sums, invoice_sums_used
from crm_graphql.resolvers.common import connection, editable_company, get_or_404, input_fields
from crm_graphql.schema.common import Connection, DeletePayload, user_errors
from crm_graphql.schema.companies import (
    COMPANY_DEFAULT_ORDER,
    COMPANY_FILTER_SPEC,
    CompanyCreateInput,
    CompanyFilter,
    CompanyOrder,
    CompanyPayload,
    CompanyRoleInput,
    CompanyRolePayload,
    CompanyRoleType,
    CompanyRoleUpdateInput,
    CompanyType,
    CompanyUpdateInput,
)
from crm_graphql.services import audit
from crm_graphql.services import companies as service
from crm_graphql.services.billing import with_billing_key
from crm_graphql.services.listing import ListError
from crm_graphql.services.mutations import atomic, refuse_nulls, unique_name
from crm_graphql.services.users import get_object

DEFAULT_ORDER = COMPANY_DEFAULT_ORDER
Described = strawberry.argument


def _with_billing_key(queryset: Any, order_by: list[CompanyOrder] | None) -> Any:
    """Sorting by BILLING sorts by the billing in one currency: a computed column."""
    try:
        return with_billing_key(queryset, order_by)
    except ListError as exc:
        raise BadUserInput(str(exc)) from None


def visible_companies(info: Info) -> Any:
    viewer = info.context.require_viewer()
    return Company.filter(visible_companies_q(viewer))


@strawberry.type
class CompaniesQuery:
    @strawberry.field(
        description="Companies you can see, filtered and sorted, a page at a time.",
        extensions=auth("CR"),
    )
    async def companies(
        self,
        info: Info,
        filter: Annotated[CompanyFilter | None, Described(description="Conditions.")] = None,
        order_by: Annotated[
            list[CompanyOrder] | None,
            Described(description="Sort keys (default: name); the id breaks ties."),
        ] = None,
        first: Annotated[
            int | None, Described(description="Page size (default 20, at most 100).")
        ] = None,
        after: Annotated[
            str | None, Described(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[CompanyType]:
        viewer = info.context.require_viewer()
        if invoice_sums_used(filter, order_by) and not can_see_invoice_sums(viewer):
            raise info.context.deny("companies.billing", "needs IR")
        return await connection(
            info,
            _with_billing_key(visible_companies(info), order_by),
            flt=filter,
            spec=COMPANY_FILTER_SPEC,
            order_by=order_by,
            default_order=DEFAULT_ORDER,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="One company you can see (NOT_FOUND otherwise).", extensions=auth("CR")
    )
    async def company(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> CompanyType:
        return await get_or_404(Company, visible_companies(info), id)

    @strawberry.field(
        description="Every company role.", extensions=auth("CR"), graphql_type=list[CompanyRoleType]
    )
    async def company_roles(self, info: Info) -> list[CompanyRole]:
        return await CompanyRole.all().order_by("name")


@strawberry.type
class CompaniesMutation:
    @strawberry.mutation(
        description="Create a company (needs CW); you are its manager unless you name one.",
        extensions=auth("CW"),
    )
    async def company_create(
        self,
        info: Info,
        input: Annotated[CompanyCreateInput, Described(description="The values.")],
    ) -> CompanyPayload:
        viewer = info.context.require_viewer()
        if not can_create_company(viewer):
            raise info.context.deny("companyCreate", "standalone user")
        data = input_fields(input)
        visible = visible_companies_q(viewer)
        company, errors = await atomic(
            lambda: service.create_company(viewer, data, visible, info.context.request_id)
        )
        return CompanyPayload(company=company, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change a company: its manager with CW, or CW+CM for companies you see.",
        extensions=auth("CW"),
    )
    async def company_update(
        self,
        info: Info,
        input: Annotated[CompanyUpdateInput, Described(description="The changes.")],
    ) -> CompanyPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> Company:
            company = await editable_company(info, data.pop("id"))
            refuse_nulls(Company, data)
            return await service.update_company(
                viewer, company, data, visible_companies_q(viewer), info.context.request_id
            )

        company, errors = await atomic(work)
        return CompanyPayload(company=company, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a company: needs CM and edit access; refused while it has child "
        "companies or invoices.",
        extensions=auth("CM"),
    )
    async def company_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            company = await editable_company(info, id)
            if not can_delete_company(viewer, company):
                raise info.context.deny(f"Company {company.id}", "not deletable")
            await service.delete_company(viewer, company, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(description="Create a company role. Needs CM.", extensions=auth("CM"))
    async def company_role_create(
        self, info: Info, input: Annotated[CompanyRoleInput, Described(description="Values.")]
    ) -> CompanyRolePayload:
        viewer = info.context.require_viewer()

        async def work() -> CompanyRole:
            name = await unique_name(CompanyRole, input.name)
            role = await CompanyRole.create(name=name, description=input.description.strip())
            await audit.record(
                viewer.user,
                audit.CREATE,
                "CompanyRole",
                role.id,
                audit.snapshot(role),
                info.context.request_id,
            )
            return role

        role, errors = await atomic(work)
        return CompanyRolePayload(role=role, errors=user_errors(errors))

    @strawberry.mutation(description="Rename or describe a role. Needs CM.", extensions=auth("CM"))
    async def company_role_update(
        self,
        info: Info,
        input: Annotated[
            CompanyRoleUpdateInput, Described(description="The role and its changes.")
        ],
    ) -> CompanyRolePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> CompanyRole:
            role = await get_object(CompanyRole, data.pop("id"), "id")
            refuse_nulls(CompanyRole, data)
            before = audit.snapshot(role)
            if "name" in data:
                role.name = await unique_name(CompanyRole, data["name"], exclude_id=role.id)
            if "description" in data:
                role.description = data["description"].strip()
            await role.save()
            await audit.record(
                viewer.user,
                audit.UPDATE,
                "CompanyRole",
                role.id,
                audit.diff(before, audit.snapshot(role)),
                info.context.request_id,
            )
            return role

        role, errors = await atomic(work)
        return CompanyRolePayload(role=role, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a role; its companies keep no role. Needs CM.", extensions=auth("CM")
    )
    async def company_role_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The role.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            role = await get_object(CompanyRole, id, "id")
            await audit.record(
                viewer.user,
                audit.DELETE,
                "CompanyRole",
                role.id,
                audit.snapshot(role),
                info.context.request_id,
            )
            await role.delete()

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
