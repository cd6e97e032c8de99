"""An invoice's input checked and normalised (SPEC §6): lines, taxes, text limits,
dates, the bill ID's uniqueness and the related contracts the viewer can see. Errors
are collected in the caller's list, so one reply names every bad field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import parse_id
from crm_graphql.models.contracts import Contract
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoiceStatus
from crm_graphql.models.setup import CrmSetup
from crm_graphql.services.languages import check_language
from crm_graphql.services.orm import column_values
from crm_graphql.values import currency_code, parse_amount, parse_percent

MAX_LINES = 500
MAX_TAXES = 20
TEXT_LIMITS = {
    "bill_id": 100,
    "reference": 200,
    "language": 10,
    "discount_concept": 200,
    "retention_concept": 200,
    "description": 20_000,
    "internal_note": 20_000,
}
FIELD_NAMES = {
    "bill_id": "billId",
    "reference": "reference",
    "language": "language",
    "discount_concept": "discountConcept",
    "retention_concept": "retentionConcept",
    "description": "description",
    "internal_note": "internalNote",
    "discount_percent": "discountPercent",
    "retention_percent": "retentionPercent",
    "issued_on": "issuedOn",
    "expires_on": "expiresOn",
    "paid_on": "paidOn",
}


async def crm_setup() -> CrmSetup:
    """The single setup row (created with the defaults when missing)."""
    setup, _ = await CrmSetup.get_or_create(id=1)
    return setup


def clean_lines(raw: Sequence[Any], errors: list[FieldError]) -> list[tuple[str, int]]:
    lines: list[tuple[str, int]] = []
    if not raw:
        errors.append(
            FieldError("lines", ErrorCode.REQUIRED, "An invoice needs at least one line.")
        )
    if len(raw) > MAX_LINES:
        errors.append(FieldError("lines", ErrorCode.TOO_LARGE, f"At most {MAX_LINES} lines."))
        return lines
    for i, item in enumerate(raw):
        concept = str(_get(item, "concept") or "").strip()
        if not concept:
            errors.append(
                FieldError(f"lines.{i}.concept", ErrorCode.REQUIRED, "A line needs a concept.")
            )
        elif len(concept) > 500:
            errors.append(
                FieldError(f"lines.{i}.concept", ErrorCode.TOO_LARGE, "At most 500 characters.")
            )
        try:
            lines.append((concept, parse_amount(_get(item, "amount"), f"lines.{i}.amount")))
        except FieldError as exc:
            errors.append(exc)
    return lines


def clean_taxes(raw: Sequence[Any], errors: list[FieldError]) -> list[tuple[str, Decimal]]:
    taxes: list[tuple[str, Decimal]] = []
    if not raw:
        errors.append(FieldError("taxes", ErrorCode.REQUIRED, "An invoice needs at least one tax."))
    if len(raw) > MAX_TAXES:
        errors.append(FieldError("taxes", ErrorCode.TOO_LARGE, f"At most {MAX_TAXES} taxes."))
        return taxes
    for i, item in enumerate(raw):
        name = str(_get(item, "name") or "").strip()
        if not name:
            errors.append(FieldError(f"taxes.{i}.name", ErrorCode.REQUIRED, "A tax needs a name."))
        elif len(name) > 100:
            errors.append(
                FieldError(f"taxes.{i}.name", ErrorCode.TOO_LARGE, "At most 100 characters.")
            )
        try:
            taxes.append((name, parse_percent(_get(item, "percent"), f"taxes.{i}.percent")))
        except FieldError as exc:
            errors.append(exc)
    return taxes


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def clean_fields(data: dict[str, Any], errors: list[FieldError]) -> None:
    """Normalise scalar values in place (text, percentages, currency, enums)."""
    for name, limit in TEXT_LIMITS.items():
        if name in data:
            data[name] = "" if data[name] is None else str(data[name]).strip()
            if len(data[name]) > limit:
                errors.append(
                    FieldError(
                        FIELD_NAMES[name], ErrorCode.TOO_LARGE, f"At most {limit} characters."
                    )
                )
    if "language" in data:
        try:
            data["language"] = check_language(data["language"])
        except FieldError as exc:
            errors.append(exc)
    for name in ("discount_percent", "retention_percent"):
        if name in data:
            try:
                data[name] = parse_percent(
                    "0" if data[name] is None else data[name], FIELD_NAMES[name]
                )
            except FieldError as exc:
                errors.append(exc)
    if "currency" in data:
        try:
            data["currency"] = currency_code(data["currency"], "currency")
        except FieldError as exc:
            errors.append(exc)
            data["currency"] = str(data["currency"] or "").strip().upper()
    for name, enum in (("kind", InvoiceKind), ("status", InvoiceStatus)):
        if name in data and data[name] is not None:
            data[name] = enum(getattr(data[name], "value", data[name]))
    if "issued_on" in data and data["issued_on"] is None:
        errors.append(
            FieldError("issuedOn", ErrorCode.REQUIRED, "An invoice needs a creation date.")
        )


def check_dates(invoice_dates: dict[str, date | None], errors: list[FieldError]) -> None:
    issued, expires, paid = (
        invoice_dates.get("issued_on"),
        invoice_dates.get("expires_on"),
        invoice_dates.get("paid_on"),
    )
    if issued and expires and expires < issued:
        errors.append(
            FieldError(
                "expiresOn", ErrorCode.INVALID, "The expiration date is before the creation date."
            )
        )
    if issued and paid and paid < issued:
        errors.append(
            FieldError("paidOn", ErrorCode.INVALID, "The payment date is before the creation date.")
        )


async def bill_id_clash(bill_id: str, exclude_id: int | None) -> FieldError | None:
    clash = Invoice.filter(bill_id=bill_id)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        return FieldError(
            "billId", ErrorCode.UNIQUE, f"Another invoice has the bill ID '{bill_id}'."
        )
    return None


async def visible_contract_ids(raw: Sequence[Any], contracts_visible: Q) -> list[int]:
    ids: list[int] = []
    for value in raw:
        cid = parse_id(value, "relatedContractIds")
        if cid not in ids:
            ids.append(cid)
    found = set(await column_values(Contract.filter(contracts_visible, id__in=ids), "id"))
    missing = [i for i in ids if i not in found]
    if missing:
        raise FieldError(
            "relatedContractIds", ErrorCode.NOT_FOUND, f"No such contract: {missing[0]}."
        )
    return ids
