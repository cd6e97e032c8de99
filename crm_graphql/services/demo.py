"""The sample world of the original documentation (SPEC §2), loaded idempotently.

Parent company "My company" with customers #A (managed by user1) and #B (managed by
manager1); user2 belongs to Customer #A. Every demo password equals the username.
Around it: company roles, custom field sections and fields with values, contacts and
activities."""

from __future__ import annotations

from dataclasses import dataclass

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldSection,
    CustomFieldValue,
)
from crm_graphql.models.users import Assignment, Group, Profile, User
from crm_graphql.services.bootstrap import DEFAULT_GROUP, ensure_defaults
from crm_graphql.services.companies import fill_missing_paths
from crm_graphql.services.passwords import hash_password_async


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


async def load_demo(sample_data: bool = True) -> list[tuple[str, str]]:
    """Create what is missing; return (username, password) of the demo logins.

    Without `sample_data`, only the SPEC §2 world: users, profiles, the three companies
    (tests build the rest themselves)."""
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
            company.last_activity_at = activity.created_at
            await company.save(update_fields=["last_activity_at"])
