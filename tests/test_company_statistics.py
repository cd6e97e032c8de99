"""Company statistics (SPEC §3): exact figures per viewer in the SPEC §2 world plus a
few companies, the list's filter narrowing every statistic, CR required, and one SQL
statement per statistic whatever the number of companies."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.users import User
from crm_graphql.services.sqlcount import count_statements
from tests.factories import Api, error_codes, make_activity, make_billing, make_company, make_user

STATS = """query($filter: CompanyFilter) {
  companyStatistics(filter: $filter) {
    byCountry { country count }
    byManager { manager { username } count }
    usersPerCompany { company { name } count }
    topByActivity { company { name } count }
    topByInvoicing { company { name } amount }
    invoicingPerManager { manager { username } amount }
  }
}"""


async def add_company(
    name: str,
    *,
    parent: Company | None = None,
    manager: User | None = None,
    country: str = "",
    billing_cents: int = 0,
    activities: int = 0,
) -> Company:
    company = await make_company(name, parent=parent, rooted=True, manager=manager, country=country)
    if billing_cents:
        await make_billing(company, billing_cents)
    if activities:
        await Activity.bulk_create(
            [Activity(company=company, text=f"note {i}") for i in range(activities)]
        )
    return company


async def set_up(demo: Api) -> None:
    """The SPEC §2 world plus:
    - "Top M1": no parent, managed by manager1 (only manager1 and admin see it);
    - "Outside root" (manager zed, who belongs to it) and its child "Outside child"
      (manager zed): admin only;
    - "M1 child": child of Top M1 without a manager: admin only;
    - ann and bob belong to Customer #B; activities and billing on a few companies
      (the demo's own activities are removed, so the figures count only these)."""
    await Activity.all().delete()
    manager1 = await User.get(username="manager1")
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    await make_billing(a, 150_050)
    await make_billing(b, 20_000)
    # never added to the EUR figures (SPEC §3); the statistics' default currency is EUR
    await make_billing(a, 9_000_000, "JPY")
    await Activity.bulk_create([Activity(company=a, text=f"a{i}") for i in range(3)])
    await make_activity(b, "b")
    top = await add_company(
        "Top M1", manager=manager1, country="France", billing_cents=99_999, activities=2
    )
    await add_company("M1 child", parent=top)
    zed = await make_user("zed")
    outside = await add_company("Outside root", manager=zed, country="Germany")
    zed.company = outside
    await zed.save(update_fields=["company_id"])
    await add_company(
        "Outside child",
        parent=outside,
        manager=zed,
        country="Germany",
        billing_cents=500_000,
        activities=5,
    )
    await make_user("ann", company=b)
    await make_user("bob", company=b)


async def stats(api: Api, user: str, flt: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await api.data(STATS, {"filter": flt}, as_user=user)
    return data["companyStatistics"]


def managers(rows: list[dict[str, Any]], key: str) -> list[tuple[str | None, Any]]:
    return [((r["manager"] or {}).get("username"), r[key]) for r in rows]


def companies(rows: list[dict[str, Any]], key: str) -> list[tuple[str, Any]]:
    return [(r["company"]["name"], r[key]) for r in rows]


async def test_user1_sees_customers_a_and_b_only(demo: Api) -> None:
    await set_up(demo)
    s = await stats(demo, "user1")
    assert s["byCountry"] == [{"country": "Spain", "count": 2}]
    assert managers(s["byManager"], "count") == [("manager1", 1), ("user1", 1)]
    # ann and bob in #B, user2 in #A
    assert companies(s["usersPerCompany"], "count") == [("Customer #B", 2), ("Customer #A", 1)]
    assert companies(s["topByActivity"], "count") == [("Customer #A", 3), ("Customer #B", 1)]
    assert companies(s["topByInvoicing"], "amount") == [
        ("Customer #A", "1500.50"),
        ("Customer #B", "200.00"),
    ]
    assert managers(s["invoicingPerManager"], "amount") == [
        ("user1", "1500.50"),
        ("manager1", "200.00"),
    ]


async def test_manager1_also_sees_the_top_level_company_it_manages(demo: Api) -> None:
    await set_up(demo)
    s = await stats(demo, "manager1")
    assert s["byCountry"] == [
        {"country": "Spain", "count": 2},
        {"country": "France", "count": 1},
    ]
    assert managers(s["byManager"], "count") == [("manager1", 2), ("user1", 1)]
    assert companies(s["usersPerCompany"], "count") == [("Customer #B", 2), ("Customer #A", 1)]
    assert companies(s["topByActivity"], "count") == [
        ("Customer #A", 3),
        ("Top M1", 2),
        ("Customer #B", 1),
    ]
    assert companies(s["topByInvoicing"], "amount") == [
        ("Customer #A", "1500.50"),
        ("Top M1", "999.99"),
        ("Customer #B", "200.00"),
    ]
    assert managers(s["invoicingPerManager"], "amount") == [
        ("user1", "1500.50"),
        ("manager1", "1199.99"),
    ]


async def test_admin_sees_everything(demo: Api) -> None:
    await set_up(demo)
    s = await stats(demo, "admin")
    assert s["byCountry"] == [
        {"country": "Spain", "count": 3},
        {"country": "Germany", "count": 2},
        {"country": "", "count": 1},
        {"country": "France", "count": 1},
    ]
    # ties by username; the company without a manager last
    assert managers(s["byManager"], "count") == [
        ("manager1", 2),
        ("zed", 2),
        ("admin", 1),
        ("user1", 1),
        (None, 1),
    ]
    assert companies(s["usersPerCompany"], "count") == [
        ("My company", 3),
        ("Customer #B", 2),
        ("Customer #A", 1),
        ("Outside root", 1),
    ]
    assert companies(s["topByActivity"], "count") == [
        ("Outside child", 5),
        ("Customer #A", 3),
        ("Top M1", 2),
        ("Customer #B", 1),
    ]
    assert companies(s["topByInvoicing"], "amount") == [
        ("Outside child", "5000.00"),
        ("Customer #A", "1500.50"),
        ("Top M1", "999.99"),
        ("Customer #B", "200.00"),
    ]
    assert managers(s["invoicingPerManager"], "amount") == [
        ("zed", "5000.00"),
        ("user1", "1500.50"),
        ("manager1", "1199.99"),
        ("admin", "0.00"),
        (None, "0.00"),
    ]


async def test_user2_without_cr_is_forbidden(demo: Api) -> None:
    await set_up(demo)
    body = await demo.gql(STATS, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None


async def test_the_list_filter_narrows_every_statistic(demo: Api) -> None:
    await set_up(demo)
    # a plain column
    s = await stats(demo, "admin", {"country": {"eq": "Spain"}})
    assert s["byCountry"] == [{"country": "Spain", "count": 3}]
    assert managers(s["byManager"], "count") == [("admin", 1), ("manager1", 1), ("user1", 1)]
    assert companies(s["usersPerCompany"], "count") == [
        ("My company", 3),
        ("Customer #B", 2),
        ("Customer #A", 1),
    ]
    assert companies(s["topByActivity"], "count") == [("Customer #A", 3), ("Customer #B", 1)]
    assert companies(s["topByInvoicing"], "amount") == [
        ("Customer #A", "1500.50"),
        ("Customer #B", "200.00"),
    ]
    assert managers(s["invoicingPerManager"], "amount") == [
        ("user1", "1500.50"),
        ("manager1", "200.00"),
        ("admin", "0.00"),
    ]

    # through a relation (a join in the list's SQL) combined with visibility
    s = await stats(demo, "manager1", {"manager": {"username": {"eq": "manager1"}}})
    assert s["byCountry"] == [
        {"country": "France", "count": 1},
        {"country": "Spain", "count": 1},
    ]
    assert managers(s["byManager"], "count") == [("manager1", 2)]
    assert companies(s["usersPerCompany"], "count") == [("Customer #B", 2)]
    assert companies(s["topByActivity"], "count") == [("Top M1", 2), ("Customer #B", 1)]
    assert companies(s["topByInvoicing"], "amount") == [
        ("Top M1", "999.99"),
        ("Customer #B", "200.00"),
    ]
    assert managers(s["invoicingPerManager"], "amount") == [("manager1", "1199.99")]

    # `not` and `or`, as admin: everything but Germany and Spain
    s = await stats(
        demo,
        "admin",
        {"not": {"or": [{"country": {"eq": "Germany"}}, {"country": {"eq": "Spain"}}]}},
    )
    assert s["byCountry"] == [{"country": "", "count": 1}, {"country": "France", "count": 1}]
    assert managers(s["byManager"], "count") == [("manager1", 1), (None, 1)]
    assert s["usersPerCompany"] == []
    assert companies(s["topByActivity"], "count") == [("Top M1", 2)]
    assert companies(s["topByInvoicing"], "amount") == [("Top M1", "999.99")]
    assert managers(s["invoicingPerManager"], "amount") == [
        ("manager1", "999.99"),
        (None, "0.00"),
    ]

    # a filter that matches nothing
    s = await stats(demo, "user1", {"name": {"eq": "Top M1"}})
    assert all(rows == [] for rows in s.values()), s


async def test_a_bad_filter_is_the_clients_error(demo: Api) -> None:
    body = await demo.gql(STATS, {"filter": {"id": {"eq": "abc"}}}, as_user="admin")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_each_statistic_is_one_statement_whatever_the_number_of_companies(
    demo: Api,
) -> None:
    async def count(query: str) -> tuple[int, dict[str, Any]]:
        await demo.data("{ __typename }", as_user="admin")
        with count_statements() as statements:
            data = await demo.data(query, as_user="admin")
        return len(statements), data

    authentication, _ = await count("{ __typename }")
    await set_up(demo)
    small, data = await count(STATS)
    assert len(data["companyStatistics"]["topByActivity"]) == 4

    # many more companies, managers, users, activities and billing
    root = await Company.get(name="My company")
    for i in range(15):
        boss = await make_user(f"boss{i:02}", company=root)
        company = await add_company(
            f"Extra {i:02}",
            parent=root,
            manager=boss,
            country=f"Land {i % 4}",
            billing_cents=1_000 * (i + 1),
            activities=i + 6,
        )
        await make_user(f"member{i:02}", company=company)
    large, data = await count(STATS)
    s = data["companyStatistics"]
    assert len(s["topByActivity"]) == 10
    assert s["topByActivity"][0] == {"company": {"name": "Extra 14"}, "count": 20}
    assert len(s["topByInvoicing"]) == 10
    assert s["topByInvoicing"][0] == {"company": {"name": "Outside child"}, "amount": "5000.00"}
    assert len(s["byManager"]) == 5 + 15
    assert len(s["usersPerCompany"]) == 4 + 15

    assert small == large
    assert large - authentication == 6  # one statement per statistic

    # only the statistics asked for run
    one, _ = await count("{ companyStatistics { byCountry { country count } } }")
    assert one - authentication == 1
