"""Invoices over HTTP: the mutations with every field, the seed's example invoice as
input, and the numbering set up."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.setup import CrmSetup
from tests.factories import Api

FIELDS = """
    id billId kind status reference issuedOn expiresOn paidOn language currency
    discountConcept discountPercent retentionConcept retentionPercent description
    internalNote locked lockedBy { username } version
    company { name }
    lines { concept amount } taxes { name percent }
    base discount subtotal taxAmounts { name percent amount } taxTotal retention total
    viewerCan { edit lock unlock delete }
"""
CREATE = (
    "mutation($input: InvoiceCreateInput!) { invoiceCreate(input: $input) { invoice { "
    + FIELDS
    + " } errors { field code message } } }"
)
UPDATE = (
    "mutation($input: InvoiceUpdateInput!) { invoiceUpdate(input: $input) { invoice { "
    + FIELDS
    + " } errors { field code message } } }"
)
DELETE = "mutation($id: ID!) { invoiceDelete(id: $id) { deletedId errors { field code } } }"
LOCK = "mutation($id: ID!) { invoiceLock(id: $id) { invoice { locked lockedBy { username } } errors { field code } } }"  # noqa: E501
UNLOCK = "mutation($id: ID!) { invoiceUnlock(id: $id) { invoice { locked lockedBy { username } } errors { field code } } }"  # noqa: E501

GET = "query($id: ID!) { invoice(id: $id) { " + FIELDS + " } }"
LIST = """query($filter: InvoiceFilter, $orderBy: [InvoiceOrder!], $first: Int) {
  invoices(filter: $filter, orderBy: $orderBy, first: $first) {
    totalCount edges { node { billId total currency } } } }"""


async def set_numbering(pattern: str, auto: bool = True) -> None:
    setup, _ = await CrmSetup.get_or_create(id=1)
    setup.invoice_pattern, setup.invoice_auto_number = pattern, auto
    await setup.save()


def seed_input(company: str, **extra: Any) -> dict[str, Any]:
    """The seed's example: one line of 2400 EUR, 10% promotion, 21% tax."""
    return {
        "companyId": company,
        "currency": "EUR",
        "lines": [{"concept": "Pandora ITSM Enterprise, annual licence", "amount": "2400"}],
        "discountConcept": "Promotion",
        "discountPercent": "10",
        "taxes": [{"name": "VAT", "percent": "21"}],
        "issuedOn": "2021-01-20",
        "expiresOn": "2021-02-20",
        **extra,
    }


async def create(api: Api, as_user: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = await api.data(CREATE, {"input": payload}, as_user=as_user)
    return body["invoiceCreate"]


async def create_ok(api: Api, as_user: str, payload: dict[str, Any]) -> dict[str, Any]:
    result = await create(api, as_user, payload)
    assert result["errors"] == [], result
    return result["invoice"]
