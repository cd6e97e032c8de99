"""The sample world of the original documentation (SPEC §2), loaded idempotently.

Parent company "My company" with customers #A (managed by user1) and #B (managed by
manager1); user2 belongs to Customer #A. Every demo password equals the username."""

from __future__ import annotations

from dataclasses import dataclass

from crm_graphql.models.companies import Company, CompanyRole
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


async def load_demo() -> list[tuple[str, str]]:
    """Create what is missing; return (username, password) of the demo logins."""
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
    return [(spec.username, spec.username) for spec in DEMO_USERS]
