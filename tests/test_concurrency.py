"""Optimistic concurrency under real concurrency: many clients send an update of the same
object with the same `version` at once; exactly one wins, every other one is STALE, and
the stored row is the winner's (no lost update). On PostgreSQL the connection pool runs
the transactions truly in parallel; on SQLite they interleave on the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tortoise.models import Model

from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomFieldEntity, CustomFieldKind
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import Profile, User
from crm_graphql.services.setup import get_setup
from tests.factories import (
    Api,
    make_contact,
    make_contract,
    make_contract_template,
    make_custom_field,
    make_lead,
)
from tests.invoices_api import create_ok, seed_input

CLIENTS = 20
ROUNDS = 3


async def _company() -> Model:
    return await Company.get(name="Customer #A")


async def _contact() -> Model:
    company = await Company.get(name="Customer #A")
    return await make_contact(company, "Ann", email="ann@example.com")


async def _contract() -> Model:
    company = await Company.get(name="Customer #A")
    return await make_contract(company, "C-1", date_begin="2024-01-01")


async def _user() -> Model:
    return await User.get(username="user1")


async def _profile() -> Model:
    return await Profile.get(name="Standard user")


async def _template() -> Model:
    return await make_contract_template("T", html="<p>x</p>")


async def _custom_field() -> Model:
    return await make_custom_field(
        entity=CustomFieldEntity.COMPANY, name="Size", kind=CustomFieldKind.TEXT
    )


async def _lead() -> Model:
    return await make_lead("Lead")


# (mutation, the entity, the model column changed, the input field changed)
Maker = Callable[[], Awaitable[Model]]
CASES: dict[str, tuple[str, Maker, str, str]] = {
    "company": ("companyUpdate", _company, "comments", "comments"),
    "contact": ("contactUpdate", _contact, "position", "position"),
    "contract": ("contractUpdate", _contract, "reference", "reference"),
    "user": ("userUpdate", _user, "real_name", "realName"),
    "profile": ("profileUpdate", _profile, "description", "description"),
    "template": ("contractTemplateUpdate", _template, "description", "description"),
    "custom field": ("customFieldUpdate", _custom_field, "name", "name"),
    "lead": ("leadUpdate", _lead, "full_name", "fullName"),
}


async def _race(api: Api, mutation: str, inputs: list[dict[str, Any]]) -> list[str]:
    """Send every input at once; the outcome of each: "ok" or the first error code."""
    input_type = mutation[0].upper() + mutation[1:-6] + "UpdateInput"
    query = (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) "
        "{ errors { field code } } }"
    )
    bodies = await asyncio.gather(*(api.data(query, {"input": i}, as_user="admin") for i in inputs))
    outcomes = []
    for body in bodies:
        errors = body[mutation]["errors"]
        outcomes.append("ok" if not errors else f"{errors[0]['field']}:{errors[0]['code']}")
    return outcomes


def _one_winner(outcomes: list[str]) -> int:
    assert sorted(outcomes) == ["ok"] + ["version:STALE"] * (CLIENTS - 1), outcomes
    return outcomes.index("ok")


@pytest.mark.parametrize("entity", list(CASES))
async def test_concurrent_updates_of_one_version_have_exactly_one_winner(
    demo: Api, entity: str
) -> None:
    mutation, make, column, field = CASES[entity]
    obj = await make()
    model = type(obj)
    for round_ in range(ROUNDS):
        version = (await model.get(pk=obj.pk)).version
        values = [f"r{round_}-c{n}" for n in range(CLIENTS)]
        outcomes = await _race(
            demo,
            mutation,
            [{"id": str(obj.pk), "version": version, field: v} for v in values],
        )
        winner = _one_winner(outcomes)
        stored = await model.get(pk=obj.pk)
        assert stored.version == version + 1
        assert getattr(stored, column) == values[winner]


async def test_concurrent_invoice_updates_have_exactly_one_winner(demo: Api) -> None:
    company = str((await Company.get(name="Customer #A")).id)
    invoice = await create_ok(demo, "admin", seed_input(company))
    for round_ in range(ROUNDS):
        version = (await Invoice.get(id=invoice["id"])).version
        values = [f"r{round_}-c{n}" for n in range(CLIENTS)]
        outcomes = await _race(
            demo,
            "invoiceUpdate",
            [{"id": invoice["id"], "version": version, "description": v} for v in values],
        )
        winner = _one_winner(outcomes)
        stored = await Invoice.get(id=invoice["id"])
        assert (stored.version, stored.description) == (version + 1, values[winner])


async def test_concurrent_setup_updates_have_exactly_one_winner(demo: Api) -> None:
    await get_setup()
    for round_ in range(ROUNDS):
        version = (await CrmSetup.get(id=1)).version
        values = [f"r{round_}-c{n}" for n in range(CLIENTS)]
        outcomes = await _race(
            demo,
            "crmSetupUpdate",
            [{"version": version, "invoiceFooter": v} for v in values],
        )
        winner = _one_winner(outcomes)
        stored = await CrmSetup.get(id=1)
        assert (stored.version, stored.invoice_footer) == (version + 1, values[winner])
