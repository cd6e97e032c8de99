"""Generic aggregates over HTTP (issue 17): every dimension kind and measure against
values computed here in Python from the rows each viewer may see (the rows the entity's
list shows them), the access rules per viewer, date buckets across a daylight-saving
change in a named zone, paging, totals, one SQL statement, and the bad input errors."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldValue,
)
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead, LeadTag, LeadTagLink
from crm_graphql.models.users import User, UserMode
from crm_graphql.services.sqlcount import count_statements
from tests.factories import Api, error_codes, make_user

AGG = """query($entity: String) { x: %s(%s) {
  groups { keys { name value label } currency values { name value } }
  groupCount pageInfo { hasNextPage endCursor }
  totals { currency values { name value } } } }"""
CURRENCIES = ["EUR", "USD", "EUR"]
STATUSES = ["PENDING", "PAID", "CANCELED", "PAID"]
VIEWERS = ["admin", "user1", "manager1", "solo"]
README = Path(__file__).resolve().parent.parent / "README.md"


def query(field: str, args: str) -> str:
    text = (AGG % (field, args)).replace("query($entity: String) ", "")
    return text.replace("()", "")


def cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def avg(values: list[int], money: bool) -> Decimal:
    mean = Decimal(sum(values)) / len(values)
    return (mean / 100 if money else mean).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def world(api: Api) -> None:
    """The demo companies plus one seen by no one but superadmins, one standalone user's
    own company (under My company), and invoices and leads spread over all of them."""
    root = await Company.get(name="My company")
    customer = await CompanyRole.get(name="Customer")
    await Company.filter(name="Customer #A").update(role=customer)
    outsider = await Company.create(name="Outsider", country="France", path="")
    await Company.filter(id=outsider.id).update(path=f"/{outsider.id}/")
    solo_co = await Company.create(name="Solo Co", parent=root, country="Italy")
    await Company.filter(id=solo_co.id).update(path=f"{root.path}{solo_co.id}/")
    solo = await make_user(
        "solo", profile="Standard user", company=solo_co, mode=UserMode.STANDALONE
    )
    await Company.filter(id=solo_co.id).update(manager=solo)
    api.tokens["solo"] = await api.login("solo", "solo-pass")
    companies = await Company.all().order_by("id")
    for i in range(30):
        company = companies[i % len(companies)]
        await Invoice.create(
            company=company,
            kind="SUBMITTED" if i % 3 else "RECEIVED",
            bill_id=f"B-{i}",
            status=STATUSES[i % len(STATUSES)],
            currency=CURRENCIES[i % len(CURRENCIES)],
            issued_on=date(2024, 1 + i % 12, 1 + i % 27),
            base_cents=10_000 + i * 1_337,
            total_cents=12_100 + i * 1_617,
        )


async def visible_ids(api: Api, viewer: str, listing: str, extra: str = "") -> set[int]:
    body = await api.gql(
        f"{{ {listing}(first: 100{extra}) {{ edges {{ node {{ id }} }} }} }}", as_user=viewer
    )
    if "errors" in body:
        return set()
    return {int(e["node"]["id"]) for e in body["data"][listing]["edges"]}


def values(group: dict[str, Any]) -> dict[str, Decimal | None]:
    return {v["name"]: None if v["value"] is None else Decimal(v["value"]) for v in group["values"]}


async def test_invoices_by_company_and_status_for_each_viewer(demo: Api) -> None:
    # Given invoices over companies each viewer sees differently
    await world(demo)
    args = (
        "groupBy: [{field: COMPANY}, {field: STATUS}], measures: [{function: COUNT}, "
        "{function: SUM, field: BASE}, {function: AVG, field: TOTAL}, "
        "{function: MIN, field: BASE}, {function: MAX, field: TOTAL}, "
        "{function: COUNT_DISTINCT, field: KIND}], first: 100"
    )
    names = {c.id: c.name for c in await Company.all()}
    seen_by: dict[str, int] = {}
    for viewer in VIEWERS:
        # When each viewer asks for the same aggregate
        ids = await visible_ids(demo, viewer, "invoices")
        body = await demo.gql(query("invoicesAggregate", args), as_user=viewer)
        # Then the groups hold the sums of exactly the invoices that viewer may see
        rows = await Invoice.filter(id__in=ids) if ids else []
        expected: dict[tuple[str, str, str], list[Invoice]] = defaultdict(list)
        for r in rows:
            expected[(str(r.company_id), r.status.value, r.currency)].append(r)
        if not ids:
            assert "errors" in body or body["data"]["x"]["groups"] == []
            seen_by[viewer] = len(ids)
            continue
        got = {}
        for g in body["data"]["x"]["groups"]:
            company, status = g["keys"]
            assert company["label"] == names[int(company["value"])]
            got[(company["value"], status["value"], g["currency"])] = values(g)
        assert set(got) == set(expected)
        for key, group in expected.items():
            assert got[key] == {
                "count": len(group),
                "sumBase": cents(sum(r.base_cents for r in group)),
                "avgTotal": avg([r.total_cents for r in group], money=True),
                "minBase": cents(min(r.base_cents for r in group)),
                "maxTotal": cents(max(r.total_cents for r in group)),
                "countDistinctKind": len({r.kind for r in group}),
            }
        totals = {t["currency"]: values(t) for t in body["data"]["x"]["totals"]}
        for currency in {r.currency for r in rows}:
            mine = [r for r in rows if r.currency == currency]
            assert totals[currency]["count"] == len(mine)
            assert totals[currency]["sumBase"] == cents(sum(r.base_cents for r in mine))
        assert body["data"]["x"]["groupCount"] == len(expected)
        seen_by[viewer] = len(ids)
    # and the viewers really see different sets
    assert seen_by["admin"] > seen_by["manager1"] >= seen_by["user1"] > seen_by["solo"] > 0


async def test_paging_having_order_and_one_statement(demo: Api) -> None:
    await world(demo)
    rows = await Invoice.all()
    per_month: dict[str, list[Invoice]] = defaultdict(list)
    for r in rows:
        per_month[r.issued_on.replace(day=1).isoformat()].append(r)
    wanted = {m: len(g) for m, g in per_month.items() if len(g) >= 3}
    ordered = sorted(wanted, key=lambda m: (-wanted[m], m))
    args = (
        'groupBy: [{field: ISSUED_ON, bucket: MONTH, name: "month"}], '
        'measures: [{function: COUNT, name: "n"}], having: [{measure: "n", gte: 3}], '
        'orderBy: [{by: "n", direction: DESC}], first: 2'
    )
    seen: list[str] = []
    after = ""
    with count_statements() as statements:
        page = (await demo.data(query("invoicesAggregate", args), as_user="admin"))["x"]
    # one statement reads invoices: the groups, their count and the totals together
    assert len([s for s in statements if '"invoices"' in s]) == 1, statements
    while True:
        seen += [g["keys"][0]["value"] for g in page["groups"]]
        assert page["groupCount"] == len(wanted)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        page = (
            await demo.data(
                query("invoicesAggregate", f'{args}, after: "{after}"'), as_user="admin"
            )
        )["x"]
    assert seen == ordered
    # a cursor of another aggregate is refused, naming `after`
    body = await demo.gql(
        query("invoicesAggregate", f'groupBy: [{{field: STATUS}}], after: "{after}"'),
        as_user="admin",
    )
    assert body["errors"][0]["extensions"]["field"] == "after"


async def test_lead_dimensions_tags_owner_company_custom_field(demo: Api) -> None:
    await world(demo)
    users = {u.username: u for u in await User.all()}
    hidden = await Company.get(name="Outsider")
    visible = await Company.get(name="Customer #A")
    hot, cold = await LeadTag.create(name="hot"), await LeadTag.create(name="cold")
    field = await CustomField.create(
        entity=CustomFieldEntity.LEAD, name="Size", kind=CustomFieldKind.COMBO, options=["S", "L"]
    )
    text = await CustomField.create(entity=CustomFieldEntity.LEAD, name="Note", kind="TEXT")
    for i in range(24):
        lead = await Lead.create(
            full_name=f"L{i}",
            owner=users[["user1", "manager1", "admin"][i % 3]] if i % 4 else None,
            company=[hidden, visible, None][i % 3],
            progress=[0, 20, 200, 101][i % 4],
            currency=["EUR", "USD"][i % 2],
            estimated_sale_cents=5_000 + 333 * i,
        )
        for tag in [(hot,), (hot, cold), ()][i % 3]:
            await LeadTagLink.create(lead=lead, tag=tag)
        if i % 5:
            await CustomFieldValue.create(field=field, object_id=lead.id, value="SL"[i % 2])
    for viewer in ("admin", "manager1"):
        ids = await visible_ids(
            demo, viewer, "leads", ", filter: {progress: {in: [0, 20, 200, 101]}}"
        )
        leads = await Lead.filter(id__in=ids).prefetch_related("tag_links")
        with count_statements() as statements:
            body = await demo.data(
                query(
                    "leadsAggregate",
                    "groupBy: [{field: TAG}, {field: OWNER}, {field: COMPANY}], "
                    "measures: [{function: COUNT}, {function: SUM, field: ESTIMATED_SALE}], "
                    "first: 100",
                ),
                as_user=viewer,
            )
        # one statement: groups, labels (tags, users, companies), count and totals
        assert len([s for s in statements if '"leads"' in s]) == 1, statements
        assert len([s for s in statements if '"lead_tags"' in s]) == 1
        expected: dict[tuple[Any, ...], list[Lead]] = defaultdict(list)
        for lead in leads:
            company = lead.company_id
            if viewer != "admin" and company == hidden.id:
                company = None  # a hidden managing company is no group of its own
            for tag in [link.tag_id for link in lead.tag_links] or [None]:
                key = (tag, lead.owner_id, company, lead.currency)
                expected[key].append(lead)
        got = {}
        for g in body["x"]["groups"]:
            tag, owner, company = g["keys"]
            as_id = [None if k["value"] is None else int(k["value"]) for k in (tag, owner, company)]
            got[(*as_id, g["currency"])] = values(g)
            if company["value"] is not None:
                assert company["label"] in {"Outsider", "Customer #A"}
            assert tag["label"] in {"hot", "cold", None}
        assert got == {
            k: {"count": len(v), "sumEstimatedSale": cents(sum(x.estimated_sale_cents for x in v))}
            for k, v in expected.items()
        }
        # totals count each lead once, whatever its tags
        totals = {t["currency"]: values(t)["count"] for t in body["x"]["totals"]}
        assert sum(totals.values()) == len(leads)
    # the COMBO custom field as a dimension, and a TEXT one refused
    values_by_lead = {v.object_id: v.value for v in await CustomFieldValue.filter(field=field)}
    body = await demo.data(
        query("leadsAggregate", f'groupBy: [{{customFieldId: "{field.id}"}}]'), as_user="admin"
    )
    counted: dict[str | None, int] = defaultdict(int)
    for lead in await Lead.all():
        counted[values_by_lead.get(lead.id)] += 1
    assert {
        g["keys"][0]["value"]: int(g["values"][0]["value"]) for g in body["x"]["groups"]
    } == counted
    bad = await demo.gql(
        query("leadsAggregate", f'groupBy: [{{customFieldId: "{text.id}"}}]'), as_user="admin"
    )
    assert bad["errors"][0]["extensions"]["field"] == "groupBy[0].customFieldId"


async def test_buckets_across_daylight_saving_in_a_named_zone(demo: Api) -> None:
    # Given leads created around the spring change in Madrid (2024-03-31 02:00 -> 03:00)
    start = datetime(2024, 3, 30, 20, 0, tzinfo=UTC)
    moments = [start + timedelta(hours=3 * i) for i in range(20)]
    for i, moment in enumerate(moments):
        lead = await Lead.create(full_name=f"T{i}")
        await Lead.filter(id=lead.id).update(created_at=moment)
    madrid = ZoneInfo("Europe/Madrid")
    for zone, unit in [
        ("Europe/Madrid", "DAY"),
        ("UTC", "DAY"),
        ("Europe/Madrid", "WEEK"),
        ("America/New_York", "MONTH"),
        ("Europe/Madrid", "QUARTER"),
        ("Europe/Madrid", "YEAR"),
    ]:
        tz = madrid if zone == "Europe/Madrid" else ZoneInfo(zone)
        expected: dict[str, int] = defaultdict(int)
        for moment in moments:
            day = moment.astimezone(tz).date()
            start_of = {
                "DAY": day,
                "WEEK": day - timedelta(days=day.weekday()),
                "MONTH": day.replace(day=1),
                "QUARTER": day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1),
                "YEAR": day.replace(month=1, day=1),
            }[unit]
            expected[start_of.isoformat()] += 1
        body = await demo.data(
            query(
                "leadsAggregate",
                f'groupBy: [{{field: CREATED_AT, bucket: {unit}}}], timeZone: "{zone}"',
            ),
            as_user="admin",
        )
        got = {g["keys"][0]["value"]: int(g["values"][0]["value"]) for g in body["x"]["groups"]}
        assert got == expected, (zone, unit)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (
            "groupBy: [{field: COUNTRY}, {field: ROLE}, {field: MANAGER}, {field: CREATED_AT}]",
            "groupBy",
        ),
        ("measures: [{function: SUM, field: COUNTRY}]", "measures[0].field"),
        ("groupBy: [{field: COUNTRY, bucket: MONTH}]", "groupBy[0].bucket"),
        ('groupBy: [{field: CREATED_AT}], timeZone: "Mars/Olympus"', "timeZone"),
        ('having: [{measure: "sumPaymentConditions", gt: 1}]', "having[0].measure"),
        ('orderBy: [{by: "nothing"}]', "orderBy[0]"),
        ("measures: [{function: AVG}]", "measures[0].field"),
        ("groupBy: [{field: COUNTRY}, {field: PAYMENT_CONDITIONS}], first: 101", "first"),
    ],
)
async def test_bad_input_names_the_argument(demo: Api, args: str, field: str) -> None:
    body = await demo.gql(query("companiesAggregate", args), as_user="admin")
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field
    assert f"`{field}" in body["errors"][0]["message"]


async def test_unknown_dimension_and_cost(demo: Api) -> None:
    body = await demo.gql(
        query("companiesAggregate", "groupBy: [{field: SHOE_SIZE}]"), as_user="admin"
    )
    assert "SHOE_SIZE" in body["errors"][0]["message"]
    # without the list's bit, the aggregate is forbidden like the list
    body = await demo.gql(query("companiesAggregate", ""), as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]


async def test_export_as_csv(demo: Api) -> None:
    await world(demo)
    document = query(
        "invoicesAggregate",
        "groupBy: [{field: STATUS}], measures: [{function: COUNT}, {function: SUM, field: BASE}]",
    )
    response = await demo.client.get(
        "/export/aggregate.csv",
        params={"query": document},
        headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
    )
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    assert lines[0] == "status,currency,count,sumBase"
    data = (await demo.data(document, as_user="admin"))["x"]["groups"]
    assert len(lines) == 1 + len(data)
    first = data[0]
    assert lines[1] == ",".join(
        [first["keys"][0]["value"], first["currency"]] + [v["value"] for v in first["values"]]
    )
    denied = await demo.client.get("/export/aggregate.csv", params={"query": document})
    assert denied.status_code == 401
    # a GET runs no mutation
    mutation = "mutation { logout { ok } }"
    refused = await demo.client.get(
        "/export/aggregate.csv",
        params={"query": mutation},
        headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
    )
    assert refused.status_code == 400


async def test_the_filter_narrows_like_the_list(demo: Api) -> None:
    for i in range(40):
        lead = await Lead.create(
            full_name=f"F{i}", progress=[0, 20, 100, 200, 60][i % 5], channel=["A", "B"][i % 2]
        )
        await Lead.filter(id=lead.id).update(created_at=datetime(2024, 1 + i % 3, 5, tzinfo=UTC))
    body = await demo.data(
        query(
            "leadsAggregate",
            "filter: {progress: {lt: 100}}, groupBy: [{field: CHANNEL}, "
            "{field: CREATED_AT, bucket: MONTH}]",
        ),
        as_user="manager1",
    )
    ids = await visible_ids(demo, "manager1", "leads", ", filter: {progress: {lt: 100}}")
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for lead in await Lead.filter(id__in=ids):
        expected[(lead.channel, lead.created_at.date().replace(day=1).isoformat())] += 1
    got = {
        (g["keys"][0]["value"], g["keys"][1]["value"]): int(g["values"][0]["value"])
        for g in body["x"]["groups"]
    }
    assert got == expected


def test_aggregates_count_toward_the_query_cost() -> None:
    from graphql import parse

    from crm_graphql.api import schema
    from crm_graphql.extensions import operation_cost
    from crm_graphql.settings import settings

    limits = settings.limits
    step = limits.filter_condition_cost

    def cost(args: str) -> int:
        found = operation_cost(
            schema._schema, parse(query("invoicesAggregate", args)), None, None, limits
        )
        assert found is not None
        return found

    plain = cost("")  # COUNT alone: one part
    three = cost("groupBy: [{field: STATUS}, {field: KIND}, {field: COMPANY}]")
    assert three - plain == 3 * step
    measures = cost("measures: [{function: COUNT}, {function: SUM, field: BASE}]")
    assert measures - plain == step
    # lists sent as variables are priced at their maximum
    variable = operation_cost(
        schema._schema,
        parse(
            query("invoicesAggregate", "groupBy: $g").replace(
                "{ x:", "query($g: [InvoiceAggregateDimension!]) { x:", 1
            )
        ),
        None,
        {"g": []},
        limits,
    )
    assert variable is not None and variable - plain == 3 * step
    # and a filter condition costs as in a list
    assert cost("filter: {status: {eq: PAID}}") - plain == step
    # a larger page multiplies what each group selects
    assert cost("first: 100") > cost("first: 10")


async def test_contracts_private_type_bool_and_checkbox_for_each_viewer(demo: Api) -> None:
    from crm_graphql.models.contracts import Contract, ContractType

    # Given contracts, some private, of two types, over the demo companies
    await world(demo)
    kinds = [await ContractType.create(name=n) for n in ("Product", "Services")]
    flag = await CustomField.create(
        entity=CustomFieldEntity.CONTRACT, name="Renew", kind=CustomFieldKind.CHECKBOX
    )
    companies = await Company.all().order_by("id")
    for i in range(24):
        contract = await Contract.create(
            company=companies[i % len(companies)],
            reference=f"C{i}",
            date_begin=date(2024, 1 + i % 12, 1),
            status=["ACTIVE", "INACTIVE", "PENDING"][i % 3],
            private=i % 4 == 0,
            contract_type=kinds[i % 2] if i % 5 else None,
        )
        await CustomFieldValue.create(field=flag, object_id=contract.id, value=str(i % 2))
    flags = {v.object_id: v.value for v in await CustomFieldValue.filter(field=flag)}
    everything = ", filter: {status: {in: [ACTIVE, INACTIVE, PENDING]}}"
    for viewer in VIEWERS:
        # When each viewer groups by type, privacy and the checkbox
        ids = await visible_ids(demo, viewer, "contracts", everything)
        body = await demo.data(
            query(
                "contractsAggregate",
                f'groupBy: [{{field: TYPE}}, {{field: PRIVATE}}, {{customFieldId: "{flag.id}"}}], '
                "measures: [{function: COUNT}, {function: COUNT_DISTINCT, field: COMPANY}], "
                "first: 100",
            ),
            as_user=viewer,
        )
        # Then the groups count exactly the contracts that viewer may see
        expected: dict[tuple[Any, ...], list[Contract]] = defaultdict(list)
        for c in await Contract.filter(id__in=ids):
            key = (c.contract_type_id, "true" if c.private else "false", flags[c.id])
            expected[key].append(c)
        got = {}
        for g in body["x"]["groups"]:
            kind, private, renew = (k["value"] for k in g["keys"])
            got[(int(kind) if kind else None, private, renew)] = values(g)
            assert g["keys"][0]["label"] in {"Product", "Services", None}
        assert got == {
            k: {"count": len(v), "countDistinctCompany": len({c.company_id for c in v})}
            for k, v in expected.items()
        }, viewer


async def test_contacts_by_company_and_disabled_with_totals_in_a_fragment(demo: Api) -> None:
    from crm_graphql.models.contacts import Contact

    companies = await Company.all().order_by("id")
    for i in range(12):
        await Contact.create(
            company=companies[i % len(companies)],
            full_name=f"P{i}",
            email=f"p{i}@example.com",
            disabled=i % 3 == 0,
        )
    body = await demo.data(
        """{ contactsAggregate(groupBy: [{field: COMPANY}, {field: DISABLED}]) {
          groups { keys { value label } values { value } } ...more } }
        fragment more on AggregateResult { totals { values { name value } } }""",
        as_user="user1",
    )
    ids = await visible_ids(demo, "user1", "contacts")
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for c in await Contact.filter(id__in=ids):
        expected[(str(c.company_id), "true" if c.disabled else "false")] += 1
    got = {
        (g["keys"][0]["value"], g["keys"][1]["value"]): int(g["values"][0]["value"])
        for g in body["contactsAggregate"]["groups"]
    }
    assert got == expected and 0 < len(ids) < 12
    assert body["contactsAggregate"]["totals"] == [
        {"values": [{"name": "count", "value": str(len(ids))}]}
    ]


async def test_the_documented_examples_run(demo: Api) -> None:
    import re

    from crm_graphql.resolvers.aggregates import EXAMPLES

    await world(demo)
    readme = README.read_text(encoding="utf-8")
    first = readme[readme.index("### Reporting: a first aggregate query") :]
    documents = [re.search(r"```graphql\n(.*?)```", first, re.S).group(1)]  # type: ignore[union-attr]
    documents += [re.search(r"```graphql\n(.*?)```", e, re.S).group(1) for e in EXAMPLES.values()]  # type: ignore[union-attr]
    assert len(documents) == 4
    for document in documents:
        # the contracts example names custom field 7: any id is accepted only if it exists
        document = document.replace('{customFieldId: "7", name: "release"}', "{field: OWNER}")
        await demo.data(document, as_user="admin")
