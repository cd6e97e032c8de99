"""Lead statistics and the lead pipeline over HTTP (SPEC §7): every figure checked
against values computed here, in Python, from the same leads; the lead access rule
narrowing each one per viewer; the list's filter narrowing them; closed leads counted by
the statistics; and a fixed number of SQL statements whatever the number of leads."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.leads import PROGRESS_NAMES, Lead, LeadTag, LeadTagLink
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.services.setup import get_setup
from crm_graphql.services.sqlcount import count_statements
from crm_graphql.settings import settings
from tests.factories import Api, error_codes, make_company, make_lead, make_lead_tag, make_user

AMOUNTS = "estimatedSales { currency amount }"
STATS = f"""query($filter: LeadFilter) {{
  leadStatistics(filter: $filter) {{
    byChannel {{ channel count {AMOUNTS} }}
    conversionRate
    byCountry {{ country count {AMOUNTS} }}
    byOwner {{ owner {{ username }} count {AMOUNTS} }}
    topOpen {{ id fullName estimatedSale currency owner {{ username }} progress {{ code name }} }}
    days: newOverTime(bucket: DAY) {{ start count }}
    weeks: newOverTime(bucket: WEEK) {{ start count }}
    months: newOverTime {{ start count }}
    funnel {{ progress {{ code name closed }} count {AMOUNTS} }}
  }}
}}"""
PIPELINE = f"""query($filter: LeadFilter, $order: LeadPipelineOrder, $closed: Boolean,
    $first: Int) {{
  leadPipeline(filter: $filter, orderBy: $order, includeClosed: $closed, first: $first) {{
    progress {{ code name closed }} count {AMOUNTS} hasMoreLeads
    leads {{ id fullName owner {{ username }} progress {{ code }} }}
  }}
}}"""

# The compiled read path answers the pipeline in one statement (CRM_COMPILED_READS).
PIPELINE_STATEMENTS = 1 if settings.compiled_reads else 4

CHANNELS = ["Web form", "E-mail", "Phone", "Referral", "Event", ""]
COUNTRIES = ["Spain", "France", "Germany", ""]
CURRENCIES = ["EUR", "EUR", "USD", "EUR", "GBP"]
# Every code, open and closed, with a few more open ones and some won.
PROGRESS = [0, 20, 40, 60, 80, 100, 101, 102, 200, 0, 20, 200, 60, 40, 200, 80, 0]
# Around a Sunday-Monday week boundary and a month boundary, in UTC.
START = datetime(2024, 1, 29, 23, 30, tzinfo=UTC)


@dataclass
class Row:
    """What the test knows of one lead it created."""

    id: int
    name: str
    channel: str
    country: str
    currency: str
    cents: int
    progress: int
    owner: str | None
    owner_id: int | None
    company: str | None
    created: datetime
    updated: datetime
    close_key: int
    tags: tuple[str, ...]


async def add_leads(
    n: int, owners: list[str | None], companies: list[str | None], prefix: str = "Lead"
) -> list[Row]:
    """`n` leads cycling through channels, countries, currencies, progress codes, owners
    and managing companies (steps of different lengths, so combinations vary), with
    creation times 7 hours apart and some tags."""
    users = {u.username: u for u in await User.all()}
    by_name = {c.name: c for c in await Company.all()}
    tags = {t.name: t for t in await LeadTag.all()}
    for name in ("hot", "cold"):
        if name not in tags:
            tags[name] = await make_lead_tag(name)
    rows: list[Row] = []
    for i in range(n):
        owner = owners[(i * 5) % len(owners)]
        company = companies[(i * 3) % len(companies)]
        cents = 10_000 + (i * 7919) % 500_000
        created = START + timedelta(hours=7 * i)
        close = date(2024, 6, 1) + timedelta(days=(i * 13) % 90) if i % 4 else None
        lead = await make_lead(
            full_name=f"{prefix} {i:03}",
            channel=CHANNELS[i % len(CHANNELS)],
            country=COUNTRIES[(i * 7) % len(COUNTRIES)],
            currency=CURRENCIES[i % len(CURRENCIES)],
            estimated_sale_cents=cents,
            progress=PROGRESS[i % len(PROGRESS)],
            owner=users[owner] if owner else None,
            company=by_name[company] if company else None,
            close_date=close,
            close_key=int(close.strftime("%Y%m%d")) if close else 99991231,
        )
        updated = created + timedelta(days=(i * 11) % 40, minutes=i)
        await Lead.filter(id=lead.id).update(created_at=created, updated_at=updated)
        names = ("hot",) if i % 3 == 0 else ("hot", "cold") if i % 3 == 1 else ()
        for tag in names:
            await LeadTagLink.create(lead=lead, tag=tags[tag])
        rows.append(
            Row(
                id=lead.id,
                name=lead.full_name,
                channel=lead.channel,
                country=lead.country,
                currency=lead.currency,
                cents=cents,
                progress=lead.progress,
                owner=owner,
                owner_id=lead.owner_id,
                company=company,
                created=created,
                updated=updated,
                close_key=lead.close_key,
                tags=names,
            )
        )
    return rows


async def set_up(demo: Api) -> list[Row]:
    """The SPEC §2 world plus:
    - seller: LR only, in My company (no CR: sees their own leads and the pool);
    - outsider: CR and LR, in a company of their own (sees the pool only);
    - leads owned by admin, user1, manager1, seller or nobody, managed by My company
      (visible to admin only), Customer #A or #B (visible to user1 and manager1) or none;
      manager1 (LM) also sees every lead owned by a user of My company.
    Progress step 20 is renamed in CRM setup."""
    mine = await Company.get(name="My company")
    await make_user("seller", password="seller", bits=("LR",), company=mine)
    elsewhere = await make_company("Elsewhere Ltd", rooted=True)
    await make_user("outsider", password="outsider", bits=("CR", "LR"), company=elsewhere)
    for name in ("seller", "outsider"):
        demo.tokens[name] = await demo.login(name, name)
    setup = await get_setup()
    await CrmSetup.filter(id=setup.id).update(lead_progress_names={"20": "Demo booked"})
    return await add_leads(
        40,
        ["admin", "user1", None, "manager1", "seller", None, "user1"],
        ["Customer #A", None, "My company", "Customer #B", None],
    )


def visible(viewer: str, row: Row) -> bool:
    """The lead rule of SPEC §7 for this world, written out."""
    pool = row.owner is None and row.company is None
    if viewer == "admin":
        return True
    if viewer == "manager1" and row.owner in ("admin", "user1", "seller"):
        return True  # LM: leads owned by colleagues (users of My company)
    if viewer in ("user1", "manager1"):
        return row.owner == viewer or pool or row.company in ("Customer #A", "Customer #B")
    if viewer == "seller":
        return row.owner == viewer or pool
    return pool  # outsider


def money(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def amounts(rows: list[Row]) -> list[dict[str, str]]:
    sums: dict[str, int] = defaultdict(int)
    for r in rows:
        sums[r.currency] += r.cents
    return [{"currency": c, "amount": money(sums[c])} for c in sorted(sums)]


def grouped(rows: list[Row], key: Callable[[Row], Any]) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return groups


def name_of(code: int) -> str:
    return "Demo booked" if code == 20 else PROGRESS_NAMES[code]


def expected_statistics(rows: list[Row]) -> dict[str, Any]:
    """Every statistic of `rows`, computed independently of the server."""
    channels = grouped(rows, lambda r: r.channel)
    countries = grouped(rows, lambda r: r.country)
    owners = grouped(rows, lambda r: r.owner)
    won = sum(1 for r in rows if r.progress == 200)
    rate = (
        str((Decimal(won) * 100 / len(rows)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        if rows
        else None
    )
    top = sorted((r for r in rows if r.progress < 100), key=lambda r: (-r.cents, r.id))[:10]

    def periods(start: Callable[[date], date]) -> list[dict[str, Any]]:
        counts = Counter(start(r.created.date()).isoformat() for r in rows)
        return [{"start": s, "count": counts[s]} for s in sorted(counts)]

    steps = grouped(rows, lambda r: r.progress)
    return {
        "byChannel": [
            {"channel": k, "count": len(v), "estimatedSales": amounts(v)}
            for k, v in sorted(channels.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "conversionRate": rate,
        "byCountry": [
            {"country": k, "count": len(v), "estimatedSales": amounts(v)}
            for k, v in sorted(countries.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "byOwner": [
            {
                "owner": {"username": k} if k else None,
                "count": len(v),
                "estimatedSales": amounts(v),
            }
            for k, v in sorted(
                owners.items(),
                key=lambda kv: (-len(kv[1]), kv[0] is None, kv[1][0].owner_id or 0),
            )
        ],
        "topOpen": [
            {
                "id": str(r.id),
                "fullName": r.name,
                "estimatedSale": money(r.cents),
                "currency": r.currency,
                "owner": {"username": r.owner} if r.owner else None,
                "progress": {"code": r.progress, "name": name_of(r.progress)},
            }
            for r in top
        ],
        "days": periods(lambda d: d),
        "weeks": periods(lambda d: d - timedelta(days=d.weekday())),
        "months": periods(lambda d: d.replace(day=1)),
        "funnel": [
            {
                "progress": {"code": code, "name": name_of(code), "closed": code >= 100},
                "count": len(steps.get(code, [])),
                "estimatedSales": amounts(steps.get(code, [])),
            }
            for code in sorted(PROGRESS_NAMES)
        ],
    }


async def statistics(api: Api, user: str, flt: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await api.data(STATS, {"filter": flt}, as_user=user)
    return data["leadStatistics"]


# ---------------------------------------------------------------- statistics


async def test_each_viewer_gets_the_statistics_of_the_leads_they_can_see(demo: Api) -> None:
    # Given leads of every kind of ownership and management, open and closed
    rows = await set_up(demo)
    for viewer in ("admin", "user1", "manager1", "seller", "outsider"):
        # When the viewer asks for every statistic without a filter
        got = await statistics(demo, viewer)
        # Then each is computed over exactly the leads the viewer can see, closed included
        mine = [r for r in rows if visible(viewer, r)]
        assert any(r.progress >= 100 for r in mine) or viewer == "outsider"
        assert got == expected_statistics(mine), viewer
    # and the sets really differ between viewers
    assert (
        len([r for r in rows if visible("seller", r)])
        < len([r for r in rows if visible("user1", r)])
        < len(rows)
    )


async def test_the_week_and_month_buckets_follow_utc_calendar_boundaries(demo: Api) -> None:
    # Given leads on a Sunday just before midnight UTC, on the Monday after, on the last
    # evening of March in UTC, and at the same time written with a +02:00 offset (1 April
    # there, 31 March in UTC)
    await make_user("boss", password="boss", superadmin=True)
    demo.tokens["boss"] = await demo.login("boss", "boss")
    for name, when in (
        ("sunday", datetime(2024, 3, 3, 23, 59, tzinfo=UTC)),
        ("monday", datetime(2024, 3, 4, 0, 1, tzinfo=UTC)),
        ("month end", datetime(2024, 3, 31, 23, 30, tzinfo=UTC)),
        ("abroad", datetime(2024, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))),
        ("april", datetime(2024, 4, 1, 0, 0, tzinfo=UTC)),
    ):
        lead = await make_lead(name)
        await Lead.filter(id=lead.id).update(created_at=when)
    got = await statistics(demo, "boss")
    # Then days, weeks (from Monday) and months (from the 1st) are UTC ones
    assert got["days"] == [
        {"start": "2024-03-03", "count": 1},
        {"start": "2024-03-04", "count": 1},
        {"start": "2024-03-31", "count": 2},
        {"start": "2024-04-01", "count": 1},
    ]
    assert got["weeks"] == [
        {"start": "2024-02-26", "count": 1},
        {"start": "2024-03-04", "count": 1},
        {"start": "2024-03-25", "count": 2},
        {"start": "2024-04-01", "count": 1},
    ]
    assert got["months"] == [
        {"start": "2024-03-01", "count": 4},
        {"start": "2024-04-01", "count": 1},
    ]


async def test_without_leads_the_rate_is_null_and_the_funnel_lists_every_step(demo: Api) -> None:
    got = await statistics(demo, "user1")
    assert got["conversionRate"] is None
    assert [s["progress"]["code"] for s in got["funnel"]] == sorted(PROGRESS_NAMES)
    assert all(s["count"] == 0 and s["estimatedSales"] == [] for s in got["funnel"])
    assert got["byChannel"] == got["byOwner"] == got["topOpen"] == got["months"] == []


async def test_the_list_filter_narrows_every_statistic(demo: Api) -> None:
    rows = await set_up(demo)
    hot = await LeadTag.get(name="hot")
    cases: list[tuple[str, dict[str, Any], Callable[[Row], bool]]] = [
        # a plain column
        ("user1", {"country": {"eq": "Spain"}}, lambda r: r.country == "Spain"),
        # a relation (a join in the list's SQL): no lead may count twice
        ("admin", {"owner": {"username": {"eq": "user1"}}}, lambda r: r.owner == "user1"),
        # tags (a subquery), with a progress condition that picks closed leads only
        (
            "manager1",
            {"tags": [str(hot.id)], "progress": {"gte": 100}},
            lambda r: "hot" in r.tags and r.progress >= 100,
        ),
        # `not` and `or`
        (
            "admin",
            {"not": {"or": [{"channel": {"eq": "Phone"}}, {"currency": {"eq": "EUR"}}]}},
            lambda r: not (r.channel == "Phone" or r.currency == "EUR"),
        ),
        # showFinished false: statistics then leave the closed leads out, as asked
        ("user1", {"showFinished": False}, lambda r: r.progress < 100),
    ]
    for viewer, flt, keep in cases:
        got = await statistics(demo, viewer, flt)
        mine = [r for r in rows if visible(viewer, r) and keep(r)]
        assert mine, flt
        assert got == expected_statistics(mine), flt


async def test_lead_bits_are_required_and_a_bad_filter_is_the_clients_error(demo: Api) -> None:
    await set_up(demo)
    for query in (STATS, PIPELINE):
        body = await demo.gql(query, as_user="user2")
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["data"] is None
        body = await demo.gql(query, {"filter": {"id": {"eq": "abc"}}}, as_user="admin")
        assert error_codes(body) == ["BAD_USER_INPUT"]
        body = await demo.gql(query, {"filter": {"progress": {"eq": 7}}}, as_user="admin")
        assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_an_unknown_bucket_is_a_validation_error(demo: Api) -> None:
    body = await demo.gql(
        "{ leadStatistics { newOverTime(bucket: YEAR) { start } } }", as_user="admin"
    )
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await demo.gql(
        "query($b: LeadTimeBucket!) { leadStatistics { newOverTime(bucket: $b) { start } } }",
        {"b": "YEAR"},
        as_user="admin",
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- pipeline


def expected_pipeline(
    rows: list[Row],
    *,
    closed: bool = False,
    first: int = 10,
    key: Callable[[Row], Any] = lambda r: (-r.cents, -r.id),
) -> list[dict[str, Any]]:
    steps = [c for c in sorted(PROGRESS_NAMES) if closed or c < 100]
    out = []
    for code in steps:
        at = sorted((r for r in rows if r.progress == code), key=key)
        out.append(
            {
                "progress": {"code": code, "name": name_of(code), "closed": code >= 100},
                "count": len(at),
                "estimatedSales": amounts(at),
                "hasMoreLeads": len(at) > first,
                "leads": [
                    {
                        "id": str(r.id),
                        "fullName": r.name,
                        "owner": {"username": r.owner} if r.owner else None,
                        "progress": {"code": code},
                    }
                    for r in at[:first]
                ],
            }
        )
    return out


async def pipeline(api: Api, user: str, **variables: Any) -> list[dict[str, Any]]:
    data = await api.data(PIPELINE, variables, as_user=user)
    return data["leadPipeline"]


async def test_the_pipeline_groups_visible_leads_by_step(demo: Api) -> None:
    rows = await set_up(demo)
    for viewer in ("admin", "user1", "seller", "outsider"):
        mine = [r for r in rows if visible(viewer, r)]
        # open steps only by default, even empty ones, leads by estimated sale
        assert await pipeline(demo, viewer) == expected_pipeline(mine), viewer
        # the closed steps on request, a smaller page per step
        got = await pipeline(demo, viewer, closed=True, first=2)
        assert got == expected_pipeline(mine, closed=True, first=2), viewer
    mine = [r for r in rows if visible("admin", r)]
    # by last change, newest first; by close date, soonest first and undated last
    got = await pipeline(demo, "admin", order="UPDATED_AT", first=3)
    assert got == expected_pipeline(mine, first=3, key=lambda r: (-r.updated.timestamp(), -r.id))
    got = await pipeline(demo, "admin", order="CLOSE_DATE", closed=True, first=4)
    assert got == expected_pipeline(mine, closed=True, first=4, key=lambda r: (r.close_key, r.id))
    # the list's filter narrows it; a progress condition keeps other steps empty
    got = await pipeline(demo, "user1", filter={"progress": {"in": [20, 200]}}, closed=True)
    keep = [r for r in rows if visible("user1", r) and r.progress in (20, 200)]
    assert got == expected_pipeline(keep, closed=True)
    # a filter through a relation (a join in the list's SQL): each lead still once
    owners = {"owner": {"username": {"in": ["user1", "seller"]}}}
    got = await pipeline(demo, "manager1", filter=owners, closed=True, first=50)
    keep = [r for r in rows if visible("manager1", r) and r.owner in ("user1", "seller")]
    assert got == expected_pipeline(keep, closed=True, first=50)
    # first: 0 lists no lead but still counts them
    got = await pipeline(demo, "admin", first=0)
    assert got == expected_pipeline(mine, first=0)


async def test_the_pipeline_page_size_is_capped(demo: Api) -> None:
    for first in (51, -1):
        body = await demo.gql(PIPELINE, {"first": first}, as_user="admin")
        assert error_codes(body) == ["BAD_USER_INPUT"], first
    assert len(await pipeline(demo, "admin", first=50)) == 5


# ---------------------------------------------------------------- statements


async def test_statement_counts_do_not_grow_with_the_leads(demo: Api) -> None:
    async def count(query: str, variables: dict[str, Any] | None = None) -> tuple[int, Any]:
        await demo.data(query, variables, as_user="admin")  # CRM setup row created, caches warm
        with count_statements() as statements:
            data = await demo.data(query, variables, as_user="admin")
        return len(statements) - authentication, data

    authentication = 0  # until measured just below
    authentication, _ = await count("{ __typename }")
    # every statistic, the owners loaded by one of them only: byOwner's and topOpen's
    # owners share a batch only when both aggregates happen to end in the same tick
    one_owner_field = STATS.replace(" owner { username } progress { code name } }", " }")
    assert one_owner_field != STATS
    rows = await set_up(demo)
    closed = {"closed": True, "first": 3}

    async def counts() -> dict[str, tuple[int, Any]]:
        return {
            "statistics": await count(one_owner_field),
            "every field": await count(STATS),
            "pipeline": await count(PIPELINE),
            "closed pipeline": await count(PIPELINE, closed),
        }

    small = await counts()
    # many more leads, owners, channels and companies
    for i in range(8):
        await make_user(f"rep{i}", bits=("LW",))
    owners: list[str | None] = [f"rep{i}" for i in range(8)] + [None, "user1"]
    more = await add_leads(90, owners, ["Customer #A", None, "Customer #B"], prefix="More")
    large = await counts()
    assert len(large["statistics"][1]["leadStatistics"]["byOwner"]) > len(
        small["statistics"][1]["leadStatistics"]["byOwner"]
    )
    assert sum(s["count"] for s in large["pipeline"][1]["leadPipeline"]) == sum(
        1 for r in rows + more if r.progress < 100
    )
    for figures in (small, large):
        # one aggregate per field (newOverTime three times), CRM setup once for the
        # progress names, the users once for the owners
        assert figures["statistics"][0] == 9 + 1 + 1
        # and once more at most when topOpen's owners come in a batch of their own
        assert 9 + 1 + 1 <= figures["every field"][0] <= 9 + 1 + 2
        # pipeline: one compiled statement; on the executor totals, leads of every
        # step, CRM setup, owners
        assert figures["pipeline"][0] == PIPELINE_STATEMENTS
        assert figures["closed pipeline"][0] == PIPELINE_STATEMENTS

    # only what is selected runs
    one, _ = await count("{ leadStatistics { conversionRate } }")
    assert one == 1
    totals, _ = await count("{ leadPipeline { count } }")
    assert totals == 1
    leads, _ = await count("{ leadPipeline { leads { id } } }")
    assert leads == 1
