"""Rows every installation needs: the group "All" and the three seeded profiles.

Idempotent and safe to run from several processes at once."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from crm_graphql.models.contracts import ContractType
from crm_graphql.models.users import Group, Profile

DEFAULT_GROUP = "All"

SEEDED_PROFILES: dict[str, dict[str, bool]] = {
    "Standard user": {"cr": True, "cw": True, "ir": True, "iw": True, "lr": True, "lw": True},
    "CRM manager": {
        "cr": True,
        "cw": True,
        "cm": True,
        "ir": True,
        "iw": True,
        "im": True,
        "lr": True,
        "lw": True,
        "lm": True,
    },
    "Support operator": {},
}

SEEDED_CONTRACT_TYPES = (
    ("Product contract", "Sale or licence of products"),
    ("Services contract", "Services, support and maintenance"),
)


async def _ensure(model: type[Model], name: str, **defaults: Any) -> None:
    if await model.filter(name=name).exists():
        return
    with suppress(IntegrityError):  # another process created it first
        await model.create(name=name, **defaults)


async def ensure_defaults() -> None:
    await _ensure(Group, DEFAULT_GROUP, description="Every user")
    for name, bits in SEEDED_PROFILES.items():
        await _ensure(Profile, name, **bits)
    for name, description in SEEDED_CONTRACT_TYPES:
        await _ensure(ContractType, name, description=description)
