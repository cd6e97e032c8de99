"""Contracts and contract types (SPEC §5): validation, custom field values of the
contract's type, related contracts and invoices, automatic company activities, audit.
Contract types are in services/contract_types.py, the links to related contracts and
invoices in services/contract_links.py.

Callers run these inside one transaction (`services.mutations.atomic`) and have checked
the viewer's rights on the contract's company; services do not import the permission
layer, so the caller passes the SQL conditions for what the viewer can see (related
contracts and invoices must be visible to be linked)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import id_number, parse_id
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract, ContractStatus, ContractType
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import EventAction, EventObjectType
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.trash import TrashType
from crm_graphql.models.users import User
from crm_graphql.services import audit, customfields, events, trash
from crm_graphql.services.activities import add_change_activity
from crm_graphql.services.auth import Viewer
from crm_graphql.services.contract_links import (
    related_contract_ids,
    related_invoice_ids,
    set_related_contracts,
    set_related_invoices,
    visible_ids,
)
from crm_graphql.services.mutations import check_version, save_versioned

REJECTED = "REJECTED"
TEXT_LIMITS = {"reference": 200, "number": 100, "description": 10_000}
# Columns written by create/update (and compared by the CSV import).
WRITTEN = (
    "company_id",
    "reference",
    "number",
    "description",
    "date_begin",
    "date_end",
    "status",
    "private",
    "contract_type_id",
    "owner_id",
    "sla_id",
    "group_id",
)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def parse_ref(value: Any, field: str) -> int:
    """An id in an input: malformed is INVALID, out of the id range NOT_FOUND."""
    return parse_id(value, field)


def _clean(data: dict[str, Any]) -> list[FieldError]:
    """Normalise text fields in place; report what is malformed."""
    errors: list[FieldError] = []
    for name, limit in TEXT_LIMITS.items():
        if name in data and data[name] is not None:
            data[name] = str(data[name]).strip()
            if len(data[name]) > limit:
                errors.append(
                    FieldError(camel(name), ErrorCode.TOO_LARGE, f"At most {limit} characters.")
                )
    if "reference" in data and not data["reference"]:
        errors.append(FieldError("reference", ErrorCode.REQUIRED, "A contract needs a reference."))
    if "number" in data and not data["number"]:
        data["number"] = None  # unique only when set
    if "description" in data and data["description"] is None:
        data["description"] = ""
    if "date_begin" in data and data["date_begin"] is None:
        errors.append(FieldError("dateBegin", ErrorCode.REQUIRED, "A contract needs a start date."))
    if "status" in data:
        if data["status"] is None:
            errors.append(FieldError("status", ErrorCode.REQUIRED, "A contract needs a status."))
        else:
            data["status"] = ContractStatus(getattr(data["status"], "value", data["status"]))
    if "private" in data and data["private"] is None:
        data["private"] = False
    for name in ("sla_id", "group_id"):
        value = data.get(name)
        if value is not None and id_number(value, minimum=0) is None:
            errors.append(FieldError(camel(name), ErrorCode.INVALID, "A non-negative id."))
    return errors


def check_dates(begin: date | None, end: date | None) -> list[FieldError]:
    if begin is not None and end is not None and end < begin:
        return [FieldError("dateEnd", ErrorCode.INVALID, "The end date is before the start date.")]
    return []


async def _unique(
    company_id: int, reference: str | None, number: str | None, exclude_id: int | None
) -> list[FieldError]:
    errors: list[FieldError] = []
    checks = []
    if reference:
        checks.append(
            ("reference", Contract.filter(company_id=company_id, reference=reference), "reference")
        )
    if number:
        checks.append(("number", Contract.filter(number=number), "contract number"))
    for label, clash, what in checks:
        if exclude_id is not None:
            clash = clash.exclude(id=exclude_id)
        if await clash.exists():
            where = " of this company" if label == "reference" else ""
            errors.append(
                FieldError(label, ErrorCode.UNIQUE, f"Another contract{where} has this {what}.")
            )
    return errors


async def _references(data: dict[str, Any]) -> list[FieldError]:
    """Resolve contractTypeId and ownerId to ids."""
    errors: list[FieldError] = []
    if data.get("contract_type_id") is not None:
        try:
            type_id = parse_ref(data["contract_type_id"], "contractTypeId")
            if not await ContractType.filter(id=type_id).exists():
                raise FieldError("contractTypeId", ErrorCode.NOT_FOUND, "No such contract type.")
            data["contract_type_id"] = type_id
        except FieldError as exc:
            errors.append(exc)
    if data.get("owner_id") is not None:
        try:
            owner_id = parse_ref(data["owner_id"], "ownerId")
            if not await User.filter(id=owner_id, enabled=True).exists():
                raise FieldError("ownerId", ErrorCode.NOT_FOUND, "No such user.")
            data["owner_id"] = owner_id
        except FieldError as exc:
            errors.append(exc)
    return errors


def _custom_changes(raw: list[Any] | None) -> dict[int, Any]:
    changes: dict[int, Any] = {}
    for item in raw or []:
        changes[parse_ref(item.field_id, "customFields")] = item.value
    return changes


async def _prepare(
    data: dict[str, Any],
    *,
    company_id: int,
    contract: Contract | None,
    visible_contracts: Q,
    visible_invoices: Q,
) -> tuple[dict[int, Any], list[int] | None, list[int] | None]:
    """Validate `data` (model column names) in place; every problem at once."""
    errors = _clean(data) + await _references(data)
    begin = data.get("date_begin", contract.date_begin if contract else None)
    end = data.get("date_end", contract.date_end if contract else None)
    errors += check_dates(begin, end)
    reference = data.get("reference", contract.reference if contract else None)
    if contract is None or "reference" in data or company_id != contract.company_id:
        errors += await _unique(company_id, reference, None, contract.id if contract else None)
    if data.get("number"):
        errors += await _unique(company_id, None, data["number"], contract.id if contract else None)
    changes: dict[int, Any] = {}
    related: list[int] | None = None
    invoices: list[int] | None = None
    try:
        changes = _custom_changes(data.pop("custom_fields", None))
    except FieldError as exc:
        errors.append(exc)
    for key, field, visible, model in (
        ("related_contract_ids", "relatedContractIds", visible_contracts, Contract),
        ("related_invoice_ids", "relatedInvoiceIds", visible_invoices, Invoice),
    ):
        raw = data.pop(key, None)
        if raw is None:
            continue
        try:
            ids = await visible_ids(raw, field, visible, model)
            if key == "related_contract_ids":
                if contract is not None and contract.id in ids:
                    raise FieldError(
                        field, ErrorCode.INVALID, "A contract cannot be related to itself."
                    )
                related = ids
            else:
                invoices = ids
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    return changes, related, invoices


async def create_contract(
    viewer: Viewer,
    company: Company,
    data: dict[str, Any],
    *,
    visible_contracts: Q,
    visible_invoices: Q,
    request_id: str = "",
) -> Contract:
    data.setdefault("owner_id", viewer.user.id)
    data.setdefault("status", ContractStatus.ACTIVE)
    changes, related, invoices = await _prepare(
        data,
        company_id=company.id,
        contract=None,
        visible_contracts=visible_contracts,
        visible_invoices=visible_invoices,
    )
    contract = await Contract.create(company_id=company.id, **data)
    written = await _write_custom(contract, changes, creating=True)
    if related:
        await set_related_contracts(contract.id, related)
    if invoices:
        await set_related_invoices(contract.id, invoices)
    snapshot = audit.snapshot(contract)
    if written:
        snapshot["custom_fields"] = {str(k): v for k, v in written.items()}
    if related:
        snapshot["related_contract_ids"] = related
    if invoices:
        snapshot["related_invoice_ids"] = invoices
    await audit.record(viewer.user, audit.CREATE, "Contract", contract.id, snapshot, request_id)
    await events.record(
        None,
        EventObjectType.CONTRACT,
        contract.id,
        EventAction.CREATE,
        events.created(snapshot),
        viewer.user.id,
        contract.company_id,
        scope={"private": contract.private},
    )
    await add_change_activity(
        viewer, company.id, f"Contract {contract.reference} created.", request_id=request_id
    )
    return contract


async def _write_custom(
    contract: Contract, changes: dict[int, Any], *, creating: bool
) -> dict[int, str | None]:
    """Custom values of the contract's type; a contract without type has none."""
    if contract.contract_type_id is None:
        if changes:
            raise FieldError(
                "customFields", ErrorCode.INVALID, "A contract without a type has no custom fields."
            )
        return {}
    return await customfields.set_values(
        CustomFieldEntity.CONTRACT,
        contract.id,
        changes,
        creating=creating,
        owner_id=contract.contract_type_id,
    )


async def update_contract(
    viewer: Viewer,
    contract: Contract,
    data: dict[str, Any],
    *,
    visible_contracts: Q,
    visible_invoices: Q,
    request_id: str = "",
) -> Contract:
    check_version(contract, data, "contract")
    company_id = data.get("company_id", contract.company_id)
    changes, related, invoices = await _prepare(
        data,
        company_id=company_id,
        contract=contract,
        visible_contracts=visible_contracts,
        visible_invoices=visible_invoices,
    )
    before = audit.snapshot(contract)
    old_company = contract.company_id
    type_changed = (
        "contract_type_id" in data and data["contract_type_id"] != contract.contract_type_id
    )
    for name, value in data.items():
        setattr(contract, name, value)
    await save_versioned(contract, "contract")
    if type_changed:
        # The old type's values go; the new type's are checked as on creation.
        await customfields.delete_values(CustomFieldEntity.CONTRACT, contract.id)
    written = await _write_custom(contract, changes, creating=type_changed)
    changed: dict[str, Any] = audit.diff(before, audit.snapshot(contract))
    changed.pop("updated_at", None)
    if written:
        changed["custom_fields"] = {str(k): v for k, v in written.items()}
    if related is not None:
        old = await related_contract_ids(contract.id, visible_contracts)
        if old != related:
            await set_related_contracts(contract.id, related, visible_contracts)
            changed["related_contract_ids"] = [old, related]
    if invoices is not None:
        old = await related_invoice_ids(contract.id, visible_invoices)
        if old != invoices:
            await set_related_invoices(contract.id, invoices, visible_invoices)
            changed["related_invoice_ids"] = [old, invoices]
    await audit.record(viewer.user, audit.UPDATE, "Contract", contract.id, changed, request_id)
    await events.record(
        None,
        EventObjectType.CONTRACT,
        contract.id,
        EventAction.UPDATE,
        changed,
        viewer.user.id,
        contract.company_id,
        scope={"private": contract.private},
    )
    text = f"Contract {contract.reference} updated."
    await add_change_activity(viewer, contract.company_id, text, request_id=request_id)
    if old_company != contract.company_id:
        await add_change_activity(
            viewer,
            old_company,
            f"Contract {contract.reference} moved to another company.",
            request_id=request_id,
        )
    return contract


async def delete_contract(viewer: Viewer, contract: Contract, request_id: str = "") -> None:
    await audit.record(
        viewer.user, audit.DELETE, "Contract", contract.id, audit.snapshot(contract), request_id
    )
    await events.record(
        None,
        EventObjectType.CONTRACT,
        contract.id,
        EventAction.DELETE,
        {},
        viewer.user.id,
        contract.company_id,
        scope={"private": contract.private},
    )
    await trash.move_to_trash(TrashType.CONTRACT, [contract.id], viewer.user)
    await add_change_activity(
        viewer,
        contract.company_id,
        f"Contract {contract.reference} deleted.",
        request_id=request_id,
    )


async def copy_contract(
    viewer: Viewer,
    source: Contract,
    data: dict[str, Any],
    *,
    visible_contracts: Q,
    visible_invoices: Q,
    request_id: str = "",
) -> Contract:
    """A renewal: the same conditions (company, type and its custom values, status,
    private, owner, SLA, group, description), new dates and reference; no number unless
    given. The copy is related to the original."""
    values = await customfields.values_for_objects(
        CustomFieldEntity.CONTRACT, [source.id], owner_id=source.contract_type_id
    )
    new = {
        "reference": data.get("reference"),
        "number": data.get("number"),
        "description": source.description,
        "date_begin": data.get("date_begin"),
        "date_end": data.get("date_end"),
        "status": source.status,
        "private": source.private,
        "contract_type_id": source.contract_type_id,
        "owner_id": source.owner_id,
        "sla_id": source.sla_id,
        "group_id": source.group_id,
        "custom_fields": [
            _Value(field_id=k, value=v) for k, v in values.get(source.id, {}).items()
        ],
        "related_contract_ids": [source.id],
    }
    company = await Company.get(id=source.company_id)
    return await create_contract(
        viewer,
        company,
        new,
        visible_contracts=visible_contracts | Q(id=source.id),
        visible_invoices=visible_invoices,
        request_id=request_id,
    )


class _Value:
    def __init__(self, field_id: int, value: str | None) -> None:
        self.field_id = field_id
        self.value = value


async def record_rejection(
    viewer: Viewer, operation: str, object_id: Any, errors: list[FieldError], request_id: str
) -> None:
    """Audit a refused change (after the rolled-back transaction): who tried, and why."""
    await audit.record(
        viewer.user,
        REJECTED,
        "Contract",
        object_id or "",
        {
            "operation": operation,
            "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in errors],
        },
        request_id,
    )
