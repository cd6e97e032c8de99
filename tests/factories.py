"""Builders for test data (one factory per entity: sensible defaults, keyword
overrides, rows written through the models) and a small GraphQL-over-HTTP client."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from crm_graphql.models.activities import Activity
from crm_graphql.models.auth import AuthToken, TokenKind, TokenScope
from crm_graphql.models.calendar import CalendarEvent
from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink, ContractType
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldSection,
    CustomFieldValue,
)
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceTax
from crm_graphql.models.leads import Lead, LeadTag, LeadTagLink, LeadType
from crm_graphql.models.mail import MailTemplate
from crm_graphql.models.setup import PaymentMethod
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.models.users import Assignment, Group, Profile, User
from crm_graphql.services.auth import hash_token, new_secret, now
from crm_graphql.services.passwords import hash_password

# Unique defaults (bill ids, stored names...) across one test session.
_sequence = itertools.count(1)


class Shadow(Protocol):
    """Runs a read again on the other execution path and compares (tests/differential.py)."""

    async def shadow(self, response: httpx.Response) -> None: ...


def is_read(query: str, operation_name: str | None = None) -> bool:
    """The document parses and the operation it runs is a query."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return len(operations) == 1 and operations[0].operation == OperationType.QUERY


class Api:
    """Posts GraphQL over HTTP as a client would; remembers tokens by username. With a
    `shadow` (CRM_DIFFERENTIAL=1), every query it sends also runs on the other path."""

    def __init__(self, client: httpx.AsyncClient, shadow: Shadow | None = None) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}
        self.shadow = shadow

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        bearer = token or (self.tokens[as_user] if as_user else None)
        if bearer:
            all_headers["Authorization"] = f"Bearer {bearer}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if self.shadow is None or not is_read(query):
            return await self.client.post("/graphql", json=body, headers=all_headers)
        # The same request id on both paths: masked errors carry it.
        if not any(name.lower() == "x-request-id" for name in all_headers):
            all_headers["X-Request-ID"] = uuid.uuid4().hex
        response = await self.client.post("/graphql", json=body, headers=all_headers)
        await self.shadow.shadow(response)
        return response

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        response = await self.post(query, variables, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """The `data` of a response that must have no errors."""
        body = await self.gql(query, variables, **kw)
        assert "errors" not in body, body
        return body["data"]

    async def login(self, username: str, password: str) -> str:
        data = await self.data(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
            "{ token errors { code message } } }",
            {"u": username, "p": password},
        )
        assert data["login"]["errors"] == [], data
        return data["login"]["token"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def make_user(
    username: str,
    *,
    password: str | None = None,
    profile: str | None = None,
    bits: tuple[str, ...] = (),
    company: Company | None = None,
    superadmin: bool = False,
    **fields: Any,
) -> User:
    """A user holding a seeded profile by name, or a new profile with exactly `bits`."""
    user = await User.create(
        username=username,
        password_hash=hash_password(password or username + "-pass"),
        is_superadmin=superadmin,
        company=company,
        **fields,
    )
    group = await Group.get(name="All")
    if profile:
        await Assignment.create(user=user, profile=await Profile.get(name=profile), group=group)
    if bits:
        made = await Profile.create(name=f"{username}-profile", **{b.lower(): True for b in bits})
        await Assignment.create(user=user, profile=made, group=group)
    return user


async def company_id(name: str) -> str:
    """The GraphQL id of the company called `name`."""
    return str((await Company.get(name=name)).id)


async def make_company(
    name: str = "Acme Ltd",
    *,
    parent: Company | None = None,
    rooted: bool = False,
    **fields: Any,
) -> Company:
    """A company. Under `parent` (or as a root when `rooted`) it gets the materialised
    path the service writes, parent's path plus its id; otherwise the path stays as
    given (empty: in no tree)."""
    company = await Company.create(name=name, parent=parent, **fields)
    if parent is not None or rooted:
        company.path = f"{parent.path if parent else '/'}{company.id}/"
        await Company.filter(id=company.id).update(path=company.path)
    return company


async def make_billing(company: Company, cents: int, currency: str = "EUR") -> CompanyBilling:
    """A company's billed total in one currency."""
    return await CompanyBilling.create(company=company, currency=currency, cents=cents)


async def make_contact(company: Company, full_name: str = "Ann Lee", **fields: Any) -> Contact:
    fields.setdefault("email", f"{full_name.lower().replace(' ', '.')}@contact.example")
    return await Contact.create(company=company, full_name=full_name, **fields)


async def make_activity(company: Company, text: str = "Called", **fields: Any) -> Activity:
    return await Activity.create(company=company, text=text, **fields)


async def make_contract_type(name: str = "Support contract", **fields: Any) -> ContractType:
    return await ContractType.create(name=name, **fields)


async def make_contract(
    company: Company,
    reference: str = "Support 2024",
    *,
    date_begin: date = date(2024, 1, 1),
    related: tuple[Contract, ...] = (),
    invoices: tuple[Invoice, ...] = (),
    **fields: Any,
) -> Contract:
    """A contract of `company`, linked to `related` contracts and `invoices`."""
    contract = await Contract.create(
        company=company, reference=reference, date_begin=date_begin, **fields
    )
    for other in related:
        await ContractLink.create(contract=contract, related=other)
    for invoice in invoices:
        await ContractInvoice.create(contract=contract, invoice=invoice)
    return contract


async def make_invoice(
    company: Company,
    bill_id: str | None = None,
    *,
    kind: InvoiceKind | str = InvoiceKind.SUBMITTED,
    issued_on: date = date(2026, 3, 31),
    lines: tuple[tuple[str, int], ...] = (),
    taxes: tuple[tuple[str, str], ...] = (),
    **fields: Any,
) -> Invoice:
    """An invoice of `company`; `lines` are (concept, cents), `taxes` (name, percent).
    Totals are stored as given (`base_cents`, `total_cents`), not computed."""
    invoice = await Invoice.create(
        company=company,
        kind=kind,
        bill_id=bill_id or f"T-{next(_sequence):05}",
        issued_on=issued_on,
        **fields,
    )
    await InvoiceLine.bulk_create(
        InvoiceLine(invoice=invoice, position=n, concept=concept, amount_cents=cents)
        for n, (concept, cents) in enumerate(lines)
    )
    await InvoiceTax.bulk_create(
        InvoiceTax(invoice=invoice, position=n, name=name, percent=Decimal(percent))
        for n, (name, percent) in enumerate(taxes)
    )
    return invoice


async def make_lead(
    full_name: str = "Ramon Guy", *, tags: tuple[LeadTag, ...] = (), **fields: Any
) -> Lead:
    """A lead (in the pool unless `owner` is given) carrying `tags`."""
    lead = await Lead.create(full_name=full_name, **fields)
    for tag in tags:
        await LeadTagLink.create(lead=lead, tag=tag)
    return lead


async def make_lead_type(name: str = "Inbound", **fields: Any) -> LeadType:
    return await LeadType.create(name=name, **fields)


async def make_lead_tag(name: str = "Hot", **fields: Any) -> LeadTag:
    return await LeadTag.create(name=name, **fields)


async def make_section(name: str = "Details", **fields: Any) -> CustomFieldSection:
    return await CustomFieldSection.create(name=name, **fields)


async def make_custom_field(
    entity: CustomFieldEntity = CustomFieldEntity.COMPANY,
    name: str = "Size",
    kind: CustomFieldKind | str = CustomFieldKind.TEXT,
    **fields: Any,
) -> CustomField:
    """A custom field of `entity` (of one contract or lead type when `owner_id` is set)."""
    return await CustomField.create(entity=entity, name=name, kind=kind, **fields)


async def make_custom_value(field: CustomField, object_id: int, value: str) -> CustomFieldValue:
    return await CustomFieldValue.create(field=field, object_id=object_id, value=value)


async def make_contract_template(
    name: str = "Standard contract", html: str = "<p>{{contract.reference}}</p>", **fields: Any
) -> ContractTemplate:
    return await ContractTemplate.create(name=name, html=html, **fields)


async def make_mail_template(
    name: str = "Welcome", subject: str = "Welcome", body_html: str = "<p>Hello</p>", **fields: Any
) -> MailTemplate:
    return await MailTemplate.create(name=name, subject=subject, body_html=body_html, **fields)


async def make_stored_file(
    owner_kind: FileOwner,
    owner_id: int,
    *,
    company_id: int | None = None,
    original_name: str = "note.txt",
    size: int = 5,
    **fields: Any,
) -> StoredFile:
    """A file row only, without bytes in the store (for listings and sweeps)."""
    fields.setdefault("stored_name", f"test-{next(_sequence):08}")
    fields.setdefault("sha256", "0" * 64)
    return await StoredFile.create(
        owner_kind=owner_kind,
        owner_id=owner_id,
        company_id=company_id,
        original_name=original_name,
        size=size,
        **fields,
    )


async def make_token(
    user: User,
    *,
    kind: TokenKind = TokenKind.API,
    scope: TokenScope = TokenScope.FULL,
    name: str = "test token",
    lifetime: timedelta | None = None,
) -> str:
    """A bearer token of `user` written straight to the table; returns the secret."""
    secret = new_secret()
    await AuthToken.create(
        user=user,
        kind=kind,
        scope=scope,
        name=name,
        token_hash=hash_token(secret),
        prefix=secret[:10],
        expires_at=now() + lifetime if lifetime else None,
    )
    return secret


async def make_event(owner: User, title: str = "Call", **fields: Any) -> CalendarEvent:
    fields.setdefault("starts_on", date(2026, 4, 1))
    return await CalendarEvent.create(owner=owner, title=title, **fields)


async def make_payment_method(
    name: str = "Bank transfer", text: str = "GLERE4710001000206"
) -> PaymentMethod:
    return await PaymentMethod.create(name=name, text=text)


async def make_group(name: str = "Sales") -> Group:
    return await Group.create(name=name)


async def make_profile(name: str, bits: tuple[str, ...] = ()) -> Profile:
    """A profile holding exactly `bits` (e.g. ("CR", "IW"))."""
    return await Profile.create(name=name, **{b.lower(): True for b in bits})


async def assign(user: User, profile: Profile, group: Group | None = None) -> Assignment:
    """`user` holds `profile` in `group` (the seeded "All" by default)."""
    return await Assignment.create(
        user=user, profile=profile, group=group or await Group.get(name="All")
    )


async def load_sample(api: Api) -> Api:
    """The worked case with the demo's sample contacts, contracts, invoices and leads."""
    from crm_graphql.services.demo import load_demo

    for username, password in await load_demo(sample_data=True):
        api.tokens[username] = await api.login(username, password)
    return api
