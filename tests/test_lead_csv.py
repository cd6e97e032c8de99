"""CSV export of leads (SPEC §7, §9): exactly the leads the viewer can see, filtered as
the `leads` query, with tags, progress names, the type's custom fields, formulas
neutralised; the lead bits (not CR) decide who may export."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import (
    CustomFieldEntity,
    CustomFieldKind,
)
from crm_graphql.models.leads import Lead, LeadTagLink
from crm_graphql.models.users import User
from tests.csvdata import export, rows_of
from tests.factories import (
    Api,
    make_company,
    make_custom_field,
    make_custom_value,
    make_lead,
    make_lead_tag,
    make_lead_type,
    make_user,
)

HEADER = [
    "id",
    "full name",
    "email",
    "phone",
    "mobile",
    "position",
    "prospect company",
    "country",
    "language",
    "product",
    "lead type",
    "channel",
    "estimated sale",
    "currency",
    "close date",
    "progress",
    "progress name",
    "owner",
    "managing company",
    "tags",
    "duplicate",
    "created",
    "updated",
]


async def world() -> dict[str, Lead]:
    """Leads around user1 (Standard user: LR+LW, CR; belongs to My company)."""
    user1 = await User.get(username="user1")
    manager1 = await User.get(username="manager1")
    customer_b = await Company.get(name="Customer #B")  # manager1's, seen by his colleagues
    # A top-level company managed by manager1: nobody else sees it.
    rival = await make_company("Rival", manager=manager1)
    return {
        "mine": await make_lead("Mine", owner=user1, country="Spain"),
        "pool": await make_lead("Pool", country="France"),
        "rival": await make_lead("Rival's", owner=manager1, company=rival),
        "theirs": await make_lead("Theirs", owner=manager1),
        "mine_at_rival": await make_lead("Mine at rival", owner=user1, company=rival),
        "closed": await make_lead("Won", owner=user1, progress=200),
        "colleague": await make_lead("Colleague", owner=manager1, company=customer_b),
    }


def ids_of(rows: list[list[str]]) -> set[int]:
    return {int(row[0]) for row in rows[1:]}


def by_name(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    return {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}


async def leads_csv(api: Api, as_user: str, **params: Any) -> list[list[str]]:
    if "filter" in params:
        params["filter"] = orjson.dumps(params["filter"]).decode()
    response = await export(api, "leads", as_user, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return rows_of(response.content)


async def test_rows_are_exactly_the_visible_open_leads(demo: Api) -> None:
    leads = await world()
    rows = await leads_csv(demo, "user1")
    assert rows[0] == HEADER
    # Own leads, the pool and the leads of companies user1 can see; not Rival's, not
    # manager1's unmanaged one, not the closed one (open leads by default)
    expected = {leads[k].id for k in ("mine", "pool", "mine_at_rival", "colleague")}
    assert ids_of(rows) == expected
    # A lead user1 sees as its owner does not reveal the company user1 cannot see
    assert by_name(rows)["Mine at rival"]["managing company"] == ""
    assert by_name(rows)["Colleague"]["managing company"] == "Customer #B"
    # The manager sees his own leads, company included
    rows = await leads_csv(demo, "manager1")
    assert leads["rival"].id in ids_of(rows)
    assert by_name(rows)["Rival's"]["managing company"] == "Rival"


async def test_the_filter_is_the_leads_querys(demo: Api) -> None:
    leads = await world()
    rows = await leads_csv(demo, "user1", filter={"country": {"eq": "France"}})
    assert ids_of(rows) == {leads["pool"].id}
    # showFinished (or a progress condition) lists closed leads too
    mine = {"showFinished": True, "owner": {"username": {"eq": "user1"}}}
    rows = await leads_csv(demo, "user1", filter=mine)
    assert ids_of(rows) == {leads[k].id for k in ("mine", "mine_at_rival", "closed")}
    rows = await leads_csv(demo, "user1", filter={"progress": {"eq": 200}})
    assert ids_of(rows) == {leads["closed"].id}
    # The filter never widens visibility
    rows = await leads_csv(demo, "user1", filter={"search": "Rival"})
    assert ids_of(rows) == {leads["mine_at_rival"].id}
    # A bad filter is a 400 naming the problem
    bad = await export(demo, "leads", "user1", filter='{"progress": {"eq": 7}}')
    assert bad.status_code == 400 and "Unknown progress code 7" in bad.text
    bad = await export(demo, "leads", "user1", filter='{"nope": 1}')
    assert bad.status_code == 400 and "nope" in bad.text
    bad = await export(demo, "leads", "user1", leadType="x")
    assert bad.status_code == 400 and "leadType" in bad.text


async def test_columns_values_and_formula_cells(demo: Api) -> None:
    user1 = await User.get(username="user1")
    customer_a = await Company.get(name="Customer #A")
    kind = await make_lead_type("Inbound")
    lead = await make_lead(
        full_name='=HYPERLINK("http://evil","x")',
        email="ann@acme.example",
        phone="+34 600 000 001",
        mobile="-1",
        position="@CTO",
        prospect_company='Acme, "the" company',
        country="Spain",
        language="es",
        product="Widgets",
        lead_type=kind,
        channel="Web form",
        estimated_sale_cents=240050,
        currency="USD",
        close_date=date(2025, 3, 31),
        progress=40,
        owner=user1,
        company=customer_a,
        duplicate=True,
    )
    for name in ("VIP", "Hot"):
        tag = await make_lead_tag(name)
        await LeadTagLink.create(lead=lead, tag=tag)
    rows = await leads_csv(demo, "user1")
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    created = (await Lead.get(id=lead.id)).created_at
    assert row == {
        "id": str(lead.id),
        "full name": '\'=HYPERLINK("http://evil","x")',
        "email": "ann@acme.example",
        "phone": "'+34 600 000 001",
        "mobile": "'-1",
        "position": "'@CTO",
        "prospect company": 'Acme, "the" company',
        "country": "Spain",
        "language": "es",
        "product": "Widgets",
        "lead type": "Inbound",
        "channel": "Web form",
        "estimated sale": "2400.50",
        "currency": "USD",
        "close date": "2025-03-31",
        "progress": "40",
        "progress name": "Needs discovered",
        "owner": "user1",
        "managing company": "Customer #A",
        "tags": "Hot; VIP",
        "duplicate": "1",
        "created": row["created"],
        "updated": row["updated"],
    }
    assert row["created"].startswith(created.date().isoformat())
    # An unowned, untyped lead leaves those cells empty
    await make_lead("Bare")
    bare = by_name(await leads_csv(demo, "user1"))["Bare"]
    assert (bare["owner"], bare["lead type"], bare["tags"], bare["close date"]) == ("", "", "", "")
    assert (bare["estimated sale"], bare["progress name"], bare["duplicate"]) == (
        "0.00",
        "New",
        "0",
    )


async def test_a_lead_type_adds_its_custom_fields(demo: Api) -> None:
    user1 = await User.get(username="user1")
    inbound = await make_lead_type("Inbound")
    other = await make_lead_type("Other")
    budget = await make_custom_field(
        entity=CustomFieldEntity.LEAD, owner_id=inbound.id, name="Budget", kind="TEXT", position=1
    )
    source = await make_custom_field(
        entity=CustomFieldEntity.LEAD,
        owner_id=inbound.id,
        name="Source",
        kind=CustomFieldKind.COMBO,
        options=["Ads", "Fair"],
        position=2,
    )
    await make_custom_field(
        entity=CustomFieldEntity.LEAD, owner_id=other.id, name="Elsewhere", kind="TEXT"
    )
    typed = await make_lead("Typed", owner=user1, lead_type=inbound)
    await make_custom_value(budget, typed.id, "=10k")
    await make_custom_value(source, typed.id, "Fair")
    await make_lead("Untyped", owner=user1)
    await make_lead("Other type", owner=user1, lead_type=other)
    rows = await leads_csv(demo, "user1", leadType=str(inbound.id))
    assert rows[0] == [*HEADER, "Budget", "Source"]
    assert ids_of(rows) == {typed.id}
    assert rows[1][-2:] == ["'=10k", "Fair"]
    # Without leadType: every type, no custom columns
    rows = await leads_csv(demo, "user1")
    assert rows[0] == HEADER and len(rows) == 4


async def test_lead_bits_not_cr_decide_who_exports(demo: Api) -> None:
    # No token: 401
    response = await demo.client.get("/export/leads.csv")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    # user2 (Support operator) has no lead bits: 403, audited
    response = await export(demo, "leads", "user2")
    assert response.status_code == 403
    assert "LR or LW or LM" in response.text
    assert await AuditEntry.filter(action="DENIED", object_type="Export", username="user2").count()
    # A lead reader without CR: own leads and the pool, nothing through companies
    my_company = await Company.get(name="My company")
    reader = await make_user("reader", password="reader-pass", bits=("LR",), company=my_company)
    demo.tokens["reader"] = await demo.login("reader", "reader-pass")
    leads = await world()
    own = await make_lead("Reader's", owner=reader)
    rows = await leads_csv(demo, "reader")
    assert ids_of(rows) == {own.id, leads["pool"].id}
