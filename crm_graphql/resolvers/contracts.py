"""Contracts and contract types. Reads filter through the contract rule (company rule
plus the private flag) in SQL; writes need CW and edit access to the contract's company,
then call the service inside one transaction."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.contracts import Contract, ContractType
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import can_create_invoice, visible_invoices_q
from crm_graphql.resolvers.common import (
    connection,
    editable_company,
    editable_contract,
    get_or_404,
    input_fields,
)
from crm_graphql.schema.common import Connection, DeletePayload, user_errors
from crm_graphql.schema.contracts import (
    CONTRACT_DEFAULT_ORDER,
    CONTRACT_FILTER_SPEC,
    ContractCreateInput,
    ContractFilter,
    ContractGenerateInvoicePayload,
    ContractKindType,
    ContractObjectType,
    ContractOrder,
    ContractPayload,
    ContractTypeInput,
    ContractTypePayload,
    ContractTypeUpdateInput,
    ContractUpdateInput,
    default_status_q,
)
from crm_graphql.services import contract_types
from crm_graphql.services import contracts as service
from crm_graphql.services import invoices as invoice_service
from crm_graphql.services.mutations import atomic, refuse_nulls
from crm_graphql.services.users import get_object

DEFAULT_ORDER = CONTRACT_DEFAULT_ORDER
Described = strawberry.argument


def visible_contracts(info: Info) -> Any:
    viewer = info.context.require_viewer()
    return Contract.filter(visible_contracts_q(viewer))


def _visibility(info: Info) -> dict[str, Any]:
    viewer = info.context.require_viewer()
    return {
        "visible_contracts": visible_contracts_q(viewer),
        "visible_invoices": visible_invoices_q(viewer),
        "request_id": info.context.request_id,
    }


async def _rejected(info: Info, operation: str, object_id: Any, errors: list[FieldError]) -> None:
    """Refused changes are audited too (the transaction was rolled back)."""
    if errors:
        await service.record_rejection(
            info.context.require_viewer(), operation, object_id, errors, info.context.request_id
        )


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("status") is not None:
        data["status"] = data["status"].value
    return data


@strawberry.type
class ContractsQuery:
    @strawberry.field(
        description="Contracts you can see, filtered and sorted, a page at a time. Without "
        "a status condition in the filter, only ACTIVE ones.",
        extensions=auth("CR"),
    )
    async def contracts(
        self,
        info: Info,
        filter: Annotated[ContractFilter | None, Described(description="Conditions.")] = None,
        order_by: Annotated[
            list[ContractOrder] | None,
            Described(description="Sort keys (default: reference); the id breaks ties."),
        ] = None,
        first: Annotated[
            int | None, Described(description="Page size (default 20, at most 100).")
        ] = None,
        after: Annotated[
            str | None, Described(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[ContractObjectType]:
        return await connection(
            info,
            visible_contracts(info).filter(default_status_q(filter)),
            flt=filter,
            spec=CONTRACT_FILTER_SPEC,
            order_by=order_by,
            default_order=DEFAULT_ORDER,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="One contract you can see (NOT_FOUND otherwise).", extensions=auth("CR")
    )
    async def contract(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> ContractObjectType:
        return await get_or_404(Contract, visible_contracts(info), id)

    @strawberry.field(
        description="Every contract type, by name.",
        extensions=auth("CR"),
        graphql_type=list[ContractKindType],
    )
    async def contract_types(self, info: Info) -> list[ContractType]:
        return await ContractType.all().order_by("name", "id")


@strawberry.type
class ContractsMutation:
    @strawberry.mutation(
        description="Create a contract with a company you can edit (CW). You own it unless "
        "you name an owner. Adds an activity to the company.",
        extensions=auth("CW"),
    )
    async def contract_create(
        self,
        info: Info,
        input: Annotated[ContractCreateInput, Described(description="The values.")],
    ) -> ContractPayload:
        viewer = info.context.require_viewer()
        data = _plain(input_fields(input))

        async def work() -> Contract:
            company = await editable_company(info, data.pop("company_id"), "companyId")
            return await service.create_contract(viewer, company, data, **_visibility(info))

        contract, errors = await atomic(work)
        await _rejected(info, "contractCreate", None, errors)
        return ContractPayload(contract=contract, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change a contract of a company you can edit (CW). relatedContractIds "
        "and relatedInvoiceIds replace the sets. Adds an activity to the company.",
        extensions=auth("CW"),
    )
    async def contract_update(
        self,
        info: Info,
        input: Annotated[ContractUpdateInput, Described(description="The changes.")],
    ) -> ContractPayload:
        viewer = info.context.require_viewer()
        data = _plain(input_fields(input))

        async def work() -> Contract:
            contract = await editable_contract(info, data.pop("id"))
            if "company_id" in data:
                if data["company_id"] is None:
                    raise FieldError("companyId", ErrorCode.REQUIRED, "A contract needs a company.")
                data["company_id"] = (
                    await editable_company(info, data["company_id"], "companyId")
                ).id
            for key in ("reference", "date_begin", "status", "private"):
                if key in data and data[key] is None:
                    raise FieldError(
                        service.camel(key), ErrorCode.REQUIRED, "This value is required."
                    )
            return await service.update_contract(viewer, contract, data, **_visibility(info))

        contract, errors = await atomic(work)
        await _rejected(info, "contractUpdate", input.id, errors)
        return ContractPayload(contract=contract, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a contract of a company you can edit (CW), with its files and "
        "custom values. Adds an activity to the company.",
        extensions=auth("CW"),
    )
    async def contract_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            contract = await editable_contract(info, id)
            await service.delete_contract(viewer, contract, info.context.request_id)

        _, errors = await atomic(work)
        await _rejected(info, "contractDelete", id, errors)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Copy a contract for a renewal: same company and conditions (type and "
        "custom values, status, private, owner, SLA, group, description), new dates and "
        "reference. The copy is related to the original. Needs CW and edit access.",
        extensions=auth("CW"),
    )
    async def contract_copy(
        self,
        info: Info,
        id: Annotated[strawberry.ID, Described(description="The contract to copy.")],
        date_begin: Annotated[date, Described(description="Start date of the copy.")],
        reference: Annotated[
            str, Described(description="Reference of the copy (unique per company).")
        ],
        date_end: Annotated[
            date | None, Described(description="End date of the copy (not before the start).")
        ] = None,
        number: Annotated[
            str | None, Described(description="Contract number of the copy (unique when set).")
        ] = None,
    ) -> ContractPayload:
        viewer = info.context.require_viewer()

        async def work() -> Contract:
            source = await editable_contract(info, id)
            data = {
                "reference": reference,
                "number": number,
                "date_begin": date_begin,
                "date_end": date_end,
            }
            return await service.copy_contract(viewer, source, data, **_visibility(info))

        contract, errors = await atomic(work)
        await _rejected(info, "contractCopy", id, errors)
        return ContractPayload(contract=contract, errors=user_errors(errors))

    @strawberry.mutation(
        description="Create an invoice for a contract you can see: a Submitted invoice for "
        "its company, with CRM setup's defaults and numbering, linked to the contract. "
        "Needs IW (or IM) and view access to the contract.",
        extensions=auth("IW", "IM"),
    )
    async def contract_generate_invoice(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The contract.")]
    ) -> ContractGenerateInvoicePayload:
        viewer = info.context.require_viewer()

        async def work() -> tuple[Any, Contract]:
            contract = await visible_contracts(info).filter(id=service.parse_ref(id, "id")).first()
            if contract is None:
                raise FieldError("id", ErrorCode.NOT_FOUND, "No such contract.")
            if not can_create_invoice(viewer):
                raise FieldError(None, ErrorCode.FORBIDDEN, "Creating invoices needs IW.")
            invoice = await invoice_service.create_invoice_from_contract(
                viewer, contract, info.context.request_id
            )
            return invoice, contract

        result, errors = await atomic(work)
        invoice, contract = result if result is not None else (None, None)
        return ContractGenerateInvoicePayload(
            invoice=invoice, contract=contract, errors=user_errors(errors)
        )

    @strawberry.mutation(description="Create a contract type. Needs CM.", extensions=auth("CM"))
    async def contract_type_create(
        self, info: Info, input: Annotated[ContractTypeInput, Described(description="Values.")]
    ) -> ContractTypePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        kind, errors = await atomic(
            lambda: contract_types.create_type(viewer, data, info.context.request_id)
        )
        return ContractTypePayload(contract_type=kind, errors=user_errors(errors))

    @strawberry.mutation(
        description="Rename or describe a contract type. Needs CM.", extensions=auth("CM")
    )
    async def contract_type_update(
        self,
        info: Info,
        input: Annotated[
            ContractTypeUpdateInput, Described(description="The contract type and its changes.")
        ],
    ) -> ContractTypePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> ContractType:
            kind = await get_object(ContractType, data.pop("id"), "id")
            refuse_nulls(ContractType, data)
            return await contract_types.update_type(viewer, kind, data, info.context.request_id)

        kind, errors = await atomic(work)
        return ContractTypePayload(contract_type=kind, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a contract type and its custom fields; refused while contracts "
        "use it. Needs CM.",
        extensions=auth("CM"),
    )
    async def contract_type_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The type.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            kind = await get_object(ContractType, id, "id")
            await contract_types.delete_type(viewer, kind, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
