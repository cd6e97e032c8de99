"""The sample world of the original documentation (SPEC §2), loaded idempotently.

Parent company "My company" with customers #A (managed by user1) and #B (managed by
manager1); user2 belongs to Customer #A. Every demo password equals the username.
Around it: company roles, custom field sections and fields with values, contacts and
activities."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractType
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldSection,
    CustomFieldValue,
)
from crm_graphql.models.invoices import Invoice, InvoicePdfStatus
from crm_graphql.models.users import Assignment, Group, Profile, User
from crm_graphql.services.activities import touch_companies
from crm_graphql.services.bootstrap import DEFAULT_GROUP, ensure_defaults
from crm_graphql.services.companies import fill_missing_paths
from crm_graphql.services.passwords import hash_password_async

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoUser:
    username: str
    real_name: str
    profile: str | None
    company: str | None
    superadmin: bool = False


DEMO_USERS = (
    DemoUser("admin", "Administrator", None, "My company", superadmin=True),
    DemoUser("user1", "User #1", "Standard user", "My company"),
    DemoUser("manager1", "Manager #1", "CRM manager", "My company"),
    DemoUser("user2", "User #2", "Support operator", "Customer #A"),
)

ROLES = (
    ("Customer", "Buys from us"),
    ("Supplier", "Sells to us"),
    ("Other", "Partners and the rest"),
)


async def _user(spec: DemoUser) -> User:
    user = await User.filter(username=spec.username).first()
    if user is None:
        user = await User.create(
            username=spec.username,
            real_name=spec.real_name,
            email=f"{spec.username}@example.com",
            is_superadmin=spec.superadmin,
            password_hash=await hash_password_async(spec.username),
        )
    return user


async def load_demo(sample_data: bool = True, render_pdfs: bool = True) -> list[tuple[str, str]]:
    """Create what is missing; return (username, password) of the demo logins.

    Without `sample_data`, only the SPEC §2 world: users, profiles, the three companies
    (tests build the rest themselves). `render_pdfs`: render the Submitted invoices' PDFs
    at once (the CLI's demo); otherwise they stay without a PDF status."""
    await ensure_defaults()
    for name, description in ROLES:
        await CompanyRole.get_or_create(name=name, defaults={"description": description})
    customer = await CompanyRole.get(name="Customer")
    users = {spec.username: await _user(spec) for spec in DEMO_USERS}

    mine, _ = await Company.get_or_create(
        name="My company", defaults={"country": "Spain", "manager": users["admin"]}
    )
    for name, manager in (("Customer #A", "user1"), ("Customer #B", "manager1")):
        await Company.get_or_create(
            name=name,
            defaults={
                "parent": mine,
                "manager": users[manager],
                "role": customer,
                "country": "Spain",
            },
        )
    await fill_missing_paths()
    group = await Group.get(name=DEFAULT_GROUP)
    for spec in DEMO_USERS:
        user = users[spec.username]
        if spec.company and user.company_id is None:
            user.company = await Company.get(name=spec.company)
            await user.save(update_fields=["company_id"])
        if spec.profile:
            profile = await Profile.get(name=spec.profile)
            await Assignment.get_or_create(user=user, profile=profile, group=group)
    if sample_data:
        await _custom_fields()
        await _contacts_and_activities(users)
        await _contracts(users)
        submitted = await _invoices(users)
        await _leads(users)
        if render_pdfs:
            await _render_pdfs(submitted)
    return [(spec.username, spec.username) for spec in DEMO_USERS]


async def _custom_fields() -> None:
    section, _ = await CustomFieldSection.get_or_create(
        name="Additional contact information", defaults={"description": "Phones, chat, hours"}
    )
    specs = [
        ("Skype", CustomFieldKind.TEXT, [], section),
        ("Opening hours", CustomFieldKind.TEXT, [], section),
        ("Sector", CustomFieldKind.COMBO, ["Retail", "Industry", "Services"], None),
        ("Employees", CustomFieldKind.NUMERIC, [], None),
        ("Customer since", CustomFieldKind.DATE, [], None),
        ("Key account", CustomFieldKind.CHECKBOX, [], None),
    ]
    for position, (name, kind, options, in_section) in enumerate(specs):
        await CustomField.get_or_create(
            entity=CustomFieldEntity.COMPANY,
            owner_id=None,
            name=name,
            defaults={
                "kind": kind,
                "options": options,
                "section": in_section,
                "position": position,
            },
        )
    await CustomField.get_or_create(
        entity=CustomFieldEntity.CONTACT,
        owner_id=None,
        name="Preferred language",
        defaults={"kind": CustomFieldKind.COMBO, "options": ["English", "Spanish"]},
    )
    values = {
        "Customer #A": {
            "Sector": "Retail",
            "Employees": "120",
            "Customer since": "2021-01-20",
            "Key account": "1",
            "Skype": "customer.a",
        },
        "Customer #B": {"Sector": "Services", "Employees": "35", "Key account": "0"},
    }
    fields = {f.name: f for f in await CustomField.filter(entity=CustomFieldEntity.COMPANY)}
    for company_name, by_field in values.items():
        company = await Company.get(name=company_name)
        for field_name, value in by_field.items():
            await CustomFieldValue.get_or_create(
                field=fields[field_name], object_id=company.id, defaults={"value": value}
            )


async def _contacts_and_activities(users: dict[str, User]) -> None:
    people = {
        "Customer #A": [("Ana García", "ana.garcia@customer-a.example", "Purchasing")],
        "Customer #B": [
            ("Bob Jones", "bob.jones@customer-b.example", "CTO"),
            ("Carla Ruiz", "carla.ruiz@customer-b.example", "Finance"),
        ],
    }
    for company_name, contacts in people.items():
        company = await Company.get(name=company_name)
        for full_name, email, position in contacts:
            await Contact.get_or_create(
                company=company,
                full_name=full_name,
                defaults={"email": email, "position": position},
            )
        if not await Activity.filter(company=company).exists():
            author = await User.get(id=company.manager_id)
            await Activity.create(
                company=company, author=author, text=f"First meeting with {company_name}."
            )
            contact = await Contact.filter(company=company).first()
            activity = await Activity.create(
                company=company,
                contact=contact,
                author=author,
                text=f"Sent the price list to {contact.full_name if contact else 'them'}.",
            )
            await touch_companies([company.id], activity.created_at)


async def _contracts(users: dict[str, User]) -> None:
    """The original's sample contract (SPEC §5): "SAMPLE CUSTOMER 2021", number 21/1001,
    a Services contract of Customer #A owned by admin, whose "Release" field is Beta."""
    services = await ContractType.get(name="Services contract")
    release, _ = await CustomField.get_or_create(
        entity=CustomFieldEntity.CONTRACT,
        owner_id=services.id,
        name="Release",
        defaults={
            "kind": CustomFieldKind.COMBO,
            "options": ["Alpha", "Beta", "Stable"],
            "show_in_list": True,
        },
    )
    customer_a = await Company.get(name="Customer #A")
    contract, made = await Contract.get_or_create(
        company=customer_a,
        reference="SAMPLE CUSTOMER 2021",
        defaults={
            "number": "21/1001",
            "description": "Sample contract.",
            "date_begin": date(2021, 1, 20),
            "date_end": date(2022, 1, 20),
            "contract_type": services,
            "owner": users["admin"],
        },
    )
    if made:
        await CustomFieldValue.create(field=release, object_id=contract.id, value="Beta")


async def _invoices(users: dict[str, User]) -> list[Invoice]:
    """The seed's invoice example (SPEC §6): one line of 2400 EUR, a 10% promotion and
    21% VAT (subtotal 2160.00, tax 453.60, total 2613.60), a Submitted invoice of
    Customer #A numbered from CRM setup's pattern and related to contract 21/1001; and a
    paid Received invoice of Customer #B."""
    from decimal import Decimal

    from tortoise.transactions import in_transaction

    from crm_graphql.models.contracts import ContractInvoice
    from crm_graphql.models.invoices import (
        Invoice,
        InvoiceKind,
        InvoiceLine,
        InvoiceStatus,
        InvoiceTax,
    )
    from crm_graphql.services.invoices import crm_setup, refresh_billing
    from crm_graphql.services.invoicing import allocate_bill_id, compute_totals, parse_pattern
    from crm_graphql.values import decimal_to_cents

    customer_a = await Company.get(name="Customer #A")
    customer_b = await Company.get(name="Customer #B")
    if await Invoice.filter(company_id__in=[customer_a.id, customer_b.id]).exists():
        return []
    samples = [
        (customer_a, InvoiceKind.SUBMITTED, None, InvoiceStatus.PENDING, users["admin"],
         "Pandora ITSM Enterprise, annual licence", Decimal("2400"), "Promotion", 10, "21/1001"),
        (customer_b, InvoiceKind.RECEIVED, "SUP-2021-0042", InvoiceStatus.PAID, None,
         "Hardware maintenance", Decimal("350"), "", 0, None),
    ]  # fmt: skip
    submitted: list[Invoice] = []
    async with in_transaction():
        setup = await crm_setup()
        if setup.invoice_pattern == "[1]":  # still the default: the seed's pattern
            setup.invoice_pattern = "21/[1001]"
            await setup.save(update_fields=["invoice_pattern"])
        for sample in samples:
            company, kind, bill_id, status, locker, concept, amount, promo, pct, contract = sample
            totals = compute_totals([amount], Decimal(pct), [("VAT", Decimal(21))], Decimal(0))
            invoice = await Invoice.create(
                company=company,
                kind=kind,
                bill_id=bill_id or await allocate_bill_id(parse_pattern(setup.invoice_pattern)),
                reference=contract or "",
                status=status,
                issued_on=date(2021, 1, 20),
                expires_on=date(2021, 2, 19),
                paid_on=date(2021, 2, 1) if status == InvoiceStatus.PAID else None,
                currency="EUR",
                discount_concept=promo,
                discount_percent=Decimal(pct),
                description=f"{concept}.",
                locked=locker is not None,
                locked_by=locker,
                base_cents=decimal_to_cents(totals.base),
                total_cents=decimal_to_cents(totals.total),
            )
            await InvoiceLine.create(
                invoice=invoice, position=0, concept=concept, amount_cents=decimal_to_cents(amount)
            )
            await InvoiceTax.create(invoice=invoice, position=0, name="VAT", percent=Decimal(21))
            related = await Contract.filter(number=contract).first() if contract else None
            if related is not None:
                await ContractInvoice.create(contract=related, invoice=invoice)
            if kind == InvoiceKind.SUBMITTED:
                submitted.append(invoice)
        await refresh_billing([customer_a.id, customer_b.id])
    return submitted


async def _render_pdfs(submitted: list[Invoice]) -> None:
    """Submitted invoices have their PDF (SPEC §6): queued and rendered after the data
    is committed, so no write lock is held while Chromium works; without a browser the
    demo still loads and says how to make the PDF later."""
    from crm_graphql.services import pdf_queue

    await Invoice.filter(id__in=[i.id for i in submitted]).update(
        pdf_status=InvoicePdfStatus.PENDING, pdf_due_at=datetime.now(UTC)
    )
    await pdf_queue.run_due()
    for invoice in await Invoice.filter(id__in=[i.id for i in submitted]):
        if invoice.pdf_status != InvoicePdfStatus.READY:
            log.warning(
                "Demo invoice %s has no PDF yet (%s); the server's render queue retries it, "
                "or run invoiceRegeneratePdf once a browser is installed.",
                invoice.bill_id,
                invoice.pdf_error or "pending",
            )


async def _leads(users: dict[str, User]) -> None:
    """Leads across every progress step, channel and a few countries, with types, tags,
    a custom field and the history their changes write (through the leads service)."""
    from tortoise.transactions import in_transaction

    from crm_graphql.models.auth import TokenKind, TokenScope
    from crm_graphql.models.leads import Lead, LeadTag, LeadType
    from crm_graphql.services import customfields
    from crm_graphql.services import leads as service
    from crm_graphql.services.auth import Viewer
    from crm_graphql.services.setup import get_setup

    if await Lead.exists():
        return
    async with in_transaction():
        setup = await get_setup()
        software, _ = await LeadType.get_or_create(
            name="Software", defaults={"description": "Licences and subscriptions"}
        )
        await LeadType.get_or_create(name="Services", defaults={"description": "Consulting"})
        seats, _ = await CustomField.get_or_create(
            entity=CustomFieldEntity.LEAD,
            owner_id=software.id,
            name="Seats",
            defaults={"kind": CustomFieldKind.NUMERIC, "show_in_list": True},
        )
        tags = {}
        for name, colour in (("Hot", "#d32f2f"), ("Cold", "#1976d2"), ("Partner", "#388e3c")):
            tags[name], _ = await LeadTag.get_or_create(name=name, defaults={"colour": colour})
        customer_a = await Company.get(name="Customer #A")
        customer_b = await Company.get(name="Customer #B")
        samples = [
            # name, owner, company, progress, sale, channel, country, language, tags
            ("Ramon Guy", "user1", customer_a, 0, "1200", "Web form", "Spain", "es", ["Hot"]),
            ("Alice Martin", "user1", customer_a, 20, "4800", "E-mail", "France", "fr", []),
            ("Bruno Costa", "manager1", customer_b, 40, "15000", "Phone", "Portugal", "pt",
             ["Partner"]),
            ("Chen Wei", "manager1", customer_b, 60, "22000", "Referral", "Spain", "en", ["Hot"]),
            ("Dana Novak", "user1", customer_a, 80, "9000", "Event", "Germany", "de", []),
            ("Eva Lund", "user1", customer_a, 100, "3000", "Other", "Sweden", "en", ["Cold"]),
            ("Farid Haddad", "manager1", customer_b, 101, "7000", "Web form", "Spain", "es", []),
            ("Gina Rossi", "manager1", customer_b, 102, "0", "E-mail", "Italy", "it", ["Cold"]),
            ("Hugo Blanc", "user1", customer_a, 200, "18500", "Referral", "France", "fr",
             ["Partner"]),
            ("Web visitor", None, None, 0, "0", "Web form", "Spain", "es", []),
        ]  # fmt: skip
        for name, owner, company, progress, sale, channel, country, language, tag_names in samples:
            user = users[owner] if owner else users["admin"]
            viewer = Viewer(user, frozenset(), 0, TokenKind.SESSION, TokenScope.FULL)
            first = f"{name.split()[0].lower()}@prospect.example"
            lead = await service.create_lead(
                viewer,
                {
                    "full_name": name,
                    "email": first,
                    "prospect_company": f"{name.split()[-1]} Ltd",
                    "country": country,
                    "language": language,
                    "product": "Pandora ITSM",
                    "channel": channel,
                    "estimated_sale": "0",
                    "owner_id": users[owner].id if owner else None,
                    "company_id": company.id if company else None,
                    "lead_type_id": software.id,
                    "tag_ids": [tags[t].id for t in tag_names],
                },
                setup,
                visible_companies=Company.all(),
            )
            await service.update_lead(
                viewer,
                lead,
                {"progress": progress, "estimated_sale": sale},
                setup,
                visible_companies=Company.all(),
            )
            await customfields.set_values(
                CustomFieldEntity.LEAD,
                lead.id,
                {seats.id: str(10 + progress)},
                creating=False,
                owner_id=software.id,
            )
            await service.add_activity(lead, user, f"First contact with {name}.")
