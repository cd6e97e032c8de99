"""The list machinery (typed filters, keyset pagination, per-parent nested limits, a
statement count set by the query's shape), exercised through the `users` list over HTTP,
plus unit tests of the pure cursor and keyset helpers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from crm_graphql.models.companies import Company
from crm_graphql.models.users import Group, Profile, User
from crm_graphql.services.listing import (
    ListError,
    SortKey,
    decode_cursor,
    encode_cursor,
    keyset_q,
    sort_keys,
)
from crm_graphql.services.sqlcount import count_statements
from crm_graphql.settings import settings
from tests.factories import (
    Api,
    assign,
    error_codes,
    make_company,
    make_group,
    make_profile,
    make_user,
)

LIMITS = settings.limits

USERS_PAGE = """
query($filter: UserFilter, $orderBy: [UserOrder!], $first: Int, $after: String) {
  users(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { username realName } }
  }
}
"""


def nested_query(first: int = 50, nested: int | None = 2) -> str:
    """Users with their assignments; page sizes are literals, as the cost rule prices a
    variable page size at its cap."""
    arguments = "" if nested is None else f"(first: {nested})"
    return f"""{{
      users(first: {first}) {{
        totalCount
        edges {{ node {{ username assignments{arguments} {{
          totalCount
          pageInfo {{ hasNextPage hasPreviousPage }}
          edges {{ node {{ profile {{ name }} group {{ name }} }} }}
        }} }} }}
      }}
    }}"""


@pytest.fixture
async def admin(api: Api) -> Api:
    """`api` with a superadmin "boss" logged in (a superadmin holds every bit, UM too)."""
    await make_user("boss", superadmin=True, password="boss-pass")
    api.tokens["boss"] = await api.login("boss", "boss-pass")
    return api


async def users_page(api: Api, **variables: Any) -> dict[str, Any]:
    data = await api.data(USERS_PAGE, variables, as_user="boss")
    return data["users"]


async def usernames(api: Api, flt: dict[str, Any]) -> list[str]:
    """Usernames matching `flt`, in id order (all on one page)."""
    page = await users_page(api, filter=flt, first=LIMITS.page_size_max)
    assert page["pageInfo"]["hasNextPage"] is False
    names = [e["node"]["username"] for e in page["edges"]]
    assert page["totalCount"] == len(names)
    return names


async def users_error(api: Api, **variables: Any) -> dict[str, Any]:
    """The body of a `users` request that must fail with a GraphQL error and no data."""
    response = await api.post(USERS_PAGE, variables, as_user="boss")
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert body["data"] is None, body
    return body


# ---------------------------------------------------------------------------------------
# Keyset pagination


REAL_NAMES = ["Mia", "Zed", "Abe", "Kim", "Zed", "Abe", "Mia", "Kim", "Zed", "Abe"]


async def make_tied_users(count: int = 25) -> list[User]:
    """`count` users whose real names tie in groups; usernames are created out of order so
    neither id order nor username order matches the requested ordering."""
    users = []
    for i in range(count):
        number = (i * 7) % count  # a permutation of 0..count-1
        users.append(await make_user(f"pg{number:02d}", real_name=REAL_NAMES[i % len(REAL_NAMES)]))
    return users


async def page_through(api: Api, order_by: list[dict[str, str]], first: int) -> list[str]:
    """Every username of the "pg" users, a page of `first` at a time, checking page info."""
    flt = {"username": {"contains": "PG"}}  # case-insensitive; excludes "boss"
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await users_page(api, filter=flt, orderBy=order_by, first=first, after=after)
        pages += 1
        names = [e["node"]["username"] for e in page["edges"]]
        seen.extend(names)
        info = page["pageInfo"]
        assert page["totalCount"] == 25
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        assert len(names) == first
        after = info["endCursor"]
        assert pages < 20, "pagination does not end"
    assert pages == -(-25 // first)
    return seen


async def test_keyset_pagination_with_ties_visits_every_row_once_in_order(admin: Api) -> None:
    users = await make_tied_users()
    expected = [
        u.username
        for u in sorted(
            sorted(users, key=lambda u: u.username),
            key=lambda u: u.real_name,
            reverse=True,
        )
    ]
    seen = await page_through(
        admin, [{"field": "REAL_NAME", "direction": "DESC"}, {"field": "USERNAME"}], 4
    )
    assert seen == expected
    assert len(set(seen)) == 25


async def test_implicit_id_tie_breaker_follows_the_last_direction(admin: Api) -> None:
    users = await make_tied_users()
    # REAL_NAME DESC alone: ties broken by id, descending like the last key.
    expected = [u.username for u in sorted(users, key=lambda u: (u.real_name, u.id), reverse=True)]
    assert await page_through(admin, [{"field": "REAL_NAME", "direction": "DESC"}], 3) == expected
    # REAL_NAME ASC: ties broken by ascending id.
    expected = [u.username for u in sorted(users, key=lambda u: (u.real_name, u.id))]
    assert await page_through(admin, [{"field": "REAL_NAME"}], 7) == expected


async def test_keyset_pagination_on_tied_datetimes(admin: Api) -> None:
    users = await make_tied_users()
    base = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    stamps = {}
    for i, user in enumerate(users):
        stamps[user.id] = base + timedelta(seconds=i % 4)
        await User.filter(id=user.id).update(created_at=stamps[user.id])
    expected = [u.username for u in sorted(users, key=lambda u: (stamps[u.id], u.id), reverse=True)]
    assert await page_through(admin, [{"field": "CREATED_AT", "direction": "DESC"}], 4) == expected
    expected = [u.username for u in sorted(users, key=lambda u: (stamps[u.id], u.id))]
    assert await page_through(admin, [{"field": "CREATED_AT"}], 6) == expected


async def test_default_order_is_by_id_and_page_size_defaults(admin: Api) -> None:
    users = await make_tied_users()
    page = await users_page(admin)
    boss = await User.get(username="boss")
    everyone = sorted([boss, *users], key=lambda u: u.id)
    assert [e["node"]["username"] for e in page["edges"]] == [
        u.username for u in everyone[: LIMITS.page_size_default]
    ]
    assert page["totalCount"] == 26
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False


async def test_first_zero_gives_no_rows_but_the_count(admin: Api) -> None:
    await make_tied_users(5)
    page = await users_page(admin, first=0)
    assert page["edges"] == []
    assert page["totalCount"] == 6
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_page_size_outside_the_cap_is_bad_user_input(admin: Api) -> None:
    for first in (LIMITS.page_size_max + 1, -1):
        body = await users_error(admin, first=first)
        assert error_codes(body) == ["BAD_USER_INPUT"], body
        assert str(LIMITS.page_size_max) in body["errors"][0]["message"]
    # exactly the cap is fine
    page = await users_page(admin, first=LIMITS.page_size_max)
    assert [e["node"]["username"] for e in page["edges"]] == ["boss"]


async def test_bad_cursors_are_bad_user_input(admin: Api) -> None:
    await make_tied_users(6)
    by_name = [{"field": "USERNAME"}]
    page = await users_page(admin, orderBy=by_name, first=2)
    cursor = page["pageInfo"]["endCursor"]
    raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    bad = {
        "garbage": "not a cursor!!",
        "not base64 json": base64.urlsafe_b64encode(b"hello").decode(),
        "json but not a list": base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        "empty list": base64.urlsafe_b64encode(b"[]").decode(),
        # a genuine cursor whose id was tampered with: none of these may reach SQL
        **{
            f"id {value!r}": base64.urlsafe_b64encode(orjson.dumps([*raw[:-1], value])).decode()
            for value in ("abc", None, True, 1.5, 2**40, [1])
        },
    }
    for name, after in bad.items():
        body = await users_error(admin, orderBy=by_name, first=2, after=after)
        assert error_codes(body) == ["BAD_USER_INPUT"], (name, body)
    # a cursor made for another ordering: fewer keys, other types, or the same shape
    other_orders = [
        None,  # default: id only
        [{"field": "CREATED_AT"}],
        [{"field": "REAL_NAME"}],
        [{"field": "USERNAME", "direction": "DESC"}],
    ]
    for order in other_orders:
        body = await users_error(admin, orderBy=order, first=2, after=cursor)
        assert error_codes(body) == ["BAD_USER_INPUT"], (order, body)
        assert "cursor" in body["errors"][0]["message"].lower()
    # while the genuine cursor still works with its own ordering
    page = await users_page(admin, orderBy=by_name, first=2, after=cursor)
    assert [e["node"]["username"] for e in page["edges"]] == ["pg01", "pg02"]


# ---------------------------------------------------------------------------------------
# Filters


@pytest.fixture
async def people(admin: Api) -> Api:
    acme = await make_company("ACME Industries")
    beta = await make_company("Beta Corp")
    widgets = await make_company("Widgets of Acme")
    await make_user("ann", real_name="Ann Lee", email="ann@x.org", language="en", company=acme)
    await make_user("bob", real_name="Bob Stone", email="bob@y.org", language="es", company=beta)
    await make_user("cid", real_name="Cid Lee", email="CID@x.org", language="en", enabled=False)
    await make_user("dee", real_name="Dee Acme", email="", language="fr", company=widgets)
    await make_user("eve", real_name="", email="eve@y.org", language="es")
    return admin


async def test_scalar_filters(people: Api) -> None:
    async def names(flt: dict[str, Any]) -> list[str]:
        return await usernames(people, flt)

    assert await names({"username": {"eq": "bob"}}) == ["bob"]
    assert await names({"username": {"eq": "BOB"}}) == []
    assert await names({"language": {"neq": "en"}}) == ["bob", "dee", "eve"]
    assert await names({"username": {"in": ["ann", "eve", "nobody"]}}) == ["ann", "eve"]
    assert await names({"username": {"in": []}}) == []
    assert await names({"realName": {"contains": "LEE"}}) == ["ann", "cid"]
    assert await names({"email": {"contains": "x.ORG"}}) == ["ann", "cid"]
    assert await names({"username": {"gt": "cid"}}) == ["dee", "eve"]
    assert await names({"username": {"gte": "cid", "lt": "eve"}}) == ["cid", "dee"]
    assert await names({"username": {"lte": "bob"}}) == ["ann", "bob"]
    assert await names({"username": {"lte": "boss"}}) == ["boss", "ann", "bob"]
    assert await names({"enabled": {"eq": False}}) == ["cid"]
    assert await names({"isSuperadmin": {"eq": True}}) == ["boss"]
    assert await names({"isSuperadmin": {"neq": True}}) == ["ann", "bob", "cid", "dee", "eve"]
    # several conditions on one field must all hold
    assert await names({"language": {"in": ["en", "es"], "neq": "es"}}) == ["boss", "ann", "cid"]


async def test_null_and_relation_filters(people: Api) -> None:
    async def names(flt: dict[str, Any]) -> list[str]:
        return await usernames(people, flt)

    assert await names({"company": {"id": {"isNull": True}}}) == ["boss", "cid", "eve"]
    assert await names({"company": {"id": {"isNull": False}}}) == ["ann", "bob", "dee"]
    assert await names({"company": {"name": {"contains": "acme"}}}) == ["ann", "dee"]
    assert await names({"company": {"name": {"eq": "Beta Corp"}}}) == ["bob"]
    beta = await Company.get(name="Beta Corp")
    assert await names({"company": {"id": {"eq": str(beta.id)}}}) == ["bob"]
    assert await names({"company": {"id": {"in": [str(beta.id), "999999"]}}}) == ["bob"]
    # negating a relation condition keeps the users without a company
    assert await names({"not": {"company": {"name": {"contains": "acme"}}}}) == [
        "boss",
        "bob",
        "cid",
        "eve",
    ]


async def test_id_and_datetime_comparisons(people: Api) -> None:
    ids = {u.username: u.id for u in await User.all()}
    assert await usernames(people, {"id": {"eq": str(ids["cid"])}}) == ["cid"]
    assert await usernames(people, {"id": {"neq": str(ids["cid"])}}) == [
        "boss",
        "ann",
        "bob",
        "dee",
        "eve",
    ]
    assert await usernames(people, {"id": {"in": [str(ids["ann"]), str(ids["eve"])]}}) == [
        "ann",
        "eve",
    ]
    base = datetime(2023, 5, 1, 8, 30, tzinfo=UTC)
    for offset, name in enumerate(["boss", "ann", "bob", "cid", "dee", "eve"]):
        await User.filter(id=ids[name]).update(created_at=base + timedelta(days=offset))
    middle = (base + timedelta(days=2)).isoformat()
    assert await usernames(people, {"createdAt": {"gt": middle}}) == ["cid", "dee", "eve"]
    assert await usernames(people, {"createdAt": {"gte": middle}}) == ["bob", "cid", "dee", "eve"]
    assert await usernames(people, {"createdAt": {"lt": middle}}) == ["boss", "ann"]
    assert await usernames(people, {"createdAt": {"eq": middle}}) == ["bob"]
    # the same instant written in another time zone
    other_zone = (base + timedelta(days=2, hours=2)).replace(tzinfo=None).isoformat() + "+02:00"
    assert await usernames(people, {"createdAt": {"eq": other_zone}}) == ["bob"]


async def test_and_or_not(people: Api) -> None:
    async def names(flt: dict[str, Any]) -> list[str]:
        return await usernames(people, flt)

    assert await names(
        {"and": [{"language": {"eq": "en"}}, {"realName": {"contains": "ann"}}]}
    ) == ["ann"]
    assert await names({"or": [{"username": {"eq": "bob"}}, {"language": {"eq": "fr"}}]}) == [
        "bob",
        "dee",
    ]
    assert await names({"not": {"language": {"eq": "es"}}}) == ["boss", "ann", "cid", "dee"]
    # nesting: en speakers who are not disabled, or anyone at Beta
    assert await names(
        {
            "or": [
                {"and": [{"language": {"eq": "en"}}, {"not": {"enabled": {"eq": False}}}]},
                {"company": {"name": {"eq": "Beta Corp"}}},
            ]
        }
    ) == ["boss", "ann", "bob"]
    # a field condition next to `or` must hold as well
    assert await names(
        {"language": {"eq": "es"}, "or": [{"username": {"eq": "bob"}}, {"username": {"eq": "ann"}}]}
    ) == ["bob"]
    # filters combine with ordering and pagination
    page = await users_page(
        people,
        filter={"not": {"username": {"eq": "boss"}}},
        orderBy=[{"field": "USERNAME", "direction": "DESC"}],
        first=2,
    )
    assert [e["node"]["username"] for e in page["edges"]] == ["eve", "dee"]
    assert page["totalCount"] == 5


async def test_malformed_ids_in_filters_are_bad_user_input(people: Api) -> None:
    for flt in (
        {"id": {"eq": "abc"}},
        {"id": {"neq": "1x"}},
        {"id": {"in": ["1", "abc"]}},
        {"company": {"id": {"eq": "abc"}}},
        {"or": [{"id": {"eq": "1"}}, {"id": {"eq": "abc"}}]},
    ):
        body = await users_error(people, filter=flt)
        assert error_codes(body) == ["BAD_USER_INPUT"], (flt, body)
        assert "abc" in body["errors"][0]["message"] or "1x" in body["errors"][0]["message"]


async def test_enum_column_filters(people: Api) -> None:
    await User.filter(username__in=["bob", "eve"]).update(mode="STANDALONE")
    assert await usernames(people, {"mode": {"eq": "STANDALONE"}}) == ["bob", "eve"]
    assert await usernames(people, {"mode": {"neq": "STANDALONE"}}) == [
        "boss",
        "ann",
        "cid",
        "dee",
    ]
    assert await usernames(people, {"mode": {"in": ["STANDALONE"]}}) == ["bob", "eve"]
    assert await usernames(people, {"mode": {"contains": "alone"}}) == ["bob", "eve"]
    assert await usernames(people, {"mode": {"contains": "other"}}) == []
    # a value the column cannot hold is the client's error, not an internal one
    for flt in (
        {"mode": {"eq": "OTHER"}},
        {"mode": {"neq": "grouped"}},
        {"mode": {"in": ["STANDALONE", "OTHER"]}},
        {"mode": {"gt": "A"}},
        {"not": {"mode": {"eq": "OTHER"}}},
    ):
        body = await users_error(people, filter=flt)
        assert error_codes(body) == ["BAD_USER_INPUT"], (flt, body)
        assert "GROUPED, STANDALONE" in body["errors"][0]["message"]


async def test_contains_is_a_literal_case_insensitive_substring(people: Api) -> None:
    await make_user("pct", real_name="100% Sure_Thing")
    await make_user("und", real_name="Under score")
    assert await usernames(people, {"realName": {"contains": "%"}}) == ["pct"]
    assert await usernames(people, {"realName": {"contains": "_"}}) == ["pct"]
    assert await usernames(people, {"realName": {"contains": "E_T"}}) == ["pct"]
    assert await usernames(people, {"realName": {"contains": "r s"}}) == ["und"]
    assert await usernames(people, {"realName": {"contains": ""}}) == [
        "boss",
        "ann",
        "bob",
        "cid",
        "dee",
        "eve",
        "pct",
        "und",
    ]


async def test_out_of_range_ids_are_refused_not_crashed(people: Api) -> None:
    huge = "9" * 20
    for flt in ({"id": {"eq": huge}}, {"company": {"id": {"in": ["1", huge]}}}):
        body = await users_error(people, filter=flt)
        assert error_codes(body) == ["BAD_USER_INPUT"], (flt, body)
    for value in (huge, str(2**31), "abc", "0", "-3"):
        response = await people.post(
            "query($id: ID!) { user(id: $id) { username } }", {"id": value}, as_user="boss"
        )
        body = response.json()
        assert error_codes(body) == ["NOT_FOUND"], (value, body)
        assert body["data"] is None


async def test_empty_combinators(people: Api) -> None:
    everyone = ["boss", "ann", "bob", "cid", "dee", "eve"]
    assert await usernames(people, {}) == everyone
    assert await usernames(people, {"and": []}) == everyone
    # `not` of a condition every row meets leaves nothing
    assert await usernames(people, {"not": {}}) == []
    assert await usernames(people, {"not": {"not": {"language": {"eq": "fr"}}}}) == ["dee"]


async def test_contains_ignores_case_beyond_ascii(people: Api) -> None:
    await make_user("jose", real_name="José Ñúñez")
    assert await usernames(people, {"realName": {"contains": "JOSÉ ñÚ"}}) == ["jose"]


# ---------------------------------------------------------------------------------------
# Nested lists limited per parent


async def make_assigned_users(count: int, per_user: list[int]) -> dict[str, list[str]]:
    """`count` users; user i holds per_user[i % len] profile assignments. Returns each
    username's profile names in assignment id order (the nested list's order)."""
    group = await Group.get(name="All")
    other = await make_group("Sales")
    profiles = [await make_profile(f"prof{i}") for i in range(max(per_user))]
    held: dict[str, list[str]] = {}
    for i in range(count):
        user = await make_user(f"as{i:02d}")
        how_many = per_user[i % len(per_user)]
        # assign in reverse profile order so assignment ids and profile ids differ in order
        chosen = list(reversed(profiles[:how_many]))
        for j, profile in enumerate(chosen):
            await assign(user=user, profile=profile, group=other if j % 2 else group)
        held[user.username] = [p.name for p in chosen]
    return held


async def test_nested_lists_are_limited_per_parent(admin: Api) -> None:
    held = await make_assigned_users(6, [0, 1, 2, 3, 5, 4])
    data = await admin.data(nested_query(50, 2), as_user="boss")
    rows = {e["node"]["username"]: e["node"]["assignments"] for e in data["users"]["edges"]}
    assert data["users"]["totalCount"] == 7
    assert rows["boss"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
        "edges": [],
    }
    for username, profiles in held.items():
        nested = rows[username]
        assert nested["totalCount"] == len(profiles), username
        assert nested["pageInfo"] == {
            "hasNextPage": len(profiles) > 2,
            "hasPreviousPage": False,
        }, username
        assert [e["node"]["profile"]["name"] for e in nested["edges"]] == profiles[:2]
        assert [e["node"]["group"]["name"] for e in nested["edges"]] == ["All", "Sales"][
            : min(2, len(profiles))
        ]


async def test_nested_default_size_and_cap(admin: Api) -> None:
    held = await make_assigned_users(2, [LIMITS.nested_page_size_default + 2, 1])
    data = await admin.data(nested_query(10, None), as_user="boss")
    rows = {e["node"]["username"]: e["node"]["assignments"] for e in data["users"]["edges"]}
    assert len(rows["as00"]["edges"]) == LIMITS.nested_page_size_default
    assert rows["as00"]["totalCount"] == len(held["as00"])
    assert rows["as00"]["pageInfo"]["hasNextPage"] is True
    assert len(rows["as01"]["edges"]) == 1
    assert rows["as01"]["pageInfo"]["hasNextPage"] is False
    # the cap itself is allowed
    data = await admin.data(nested_query(10, LIMITS.nested_page_size_max), as_user="boss")
    rows = {e["node"]["username"]: e["node"]["assignments"] for e in data["users"]["edges"]}
    assert len(rows["as00"]["edges"]) == len(held["as00"])
    for nested in (LIMITS.nested_page_size_max + 1, -1):
        response = await admin.post(nested_query(10, nested), as_user="boss")
        body = response.json()
        assert response.status_code == 200
        assert set(error_codes(body)) == {"BAD_USER_INPUT"}, body
        assert str(LIMITS.nested_page_size_max) in body["errors"][0]["message"]
        assert body["errors"][0]["path"][:2] == ["users", "edges"]
        assert "Traceback" not in response.text


async def test_nested_statement_count_depends_on_the_shape_not_the_rows(admin: Api) -> None:
    async def count(query: str) -> tuple[int, dict[str, Any]]:
        # warm-up: the first request after login marks the token as used (an UPDATE)
        await admin.data("{ __typename }", as_user="boss")
        with count_statements() as statements:
            data = await admin.data(query, as_user="boss")
        return len(statements), data

    # what authenticating the request costs, counted the same way
    authentication, _ = await count("{ __typename }")

    await make_assigned_users(5, [1, 2, 3])
    small, data = await count(nested_query(50, 2))
    assert len(data["users"]["edges"]) == 6

    await User.filter(username__startswith="as").delete()
    await Profile.filter(name__startswith="prof").delete()
    await Group.filter(name="Sales").delete()
    await make_assigned_users(30, [4, 0, 6, 2, 3])
    large, data = await count(nested_query(50, 2))
    assert len(data["users"]["edges"]) == 31
    assert sum(len(e["node"]["assignments"]["edges"]) for e in data["users"]["edges"]) == 48

    assert small == large
    # users page, users count, the assignments window, assignment counts, profiles, groups
    assert large - authentication == 6


# ---------------------------------------------------------------------------------------
# Unit tests of the pure helpers


def test_sort_keys_adds_the_id_tie_breaker_once() -> None:
    default = [SortKey("id")]
    assert sort_keys(None, default) == [SortKey("id")]
    assert sort_keys([], default) == [SortKey("id")]
    assert sort_keys([("real_name", True)], default) == [
        SortKey("real_name", True),
        SortKey("id", True),
    ]
    assert sort_keys([("real_name", True), ("username", False)], default) == [
        SortKey("real_name", True),
        SortKey("username", False),
        SortKey("id", False),
    ]
    # an explicit id stays where the client put it; a repeated column counts once
    assert sort_keys([("id", True), ("username", False), ("id", False)], default) == [
        SortKey("id", True),
        SortKey("username", False),
    ]
    assert sort_keys(None, [SortKey("created_at", True)]) == [
        SortKey("created_at", True),
        SortKey("id", True),
    ]


def test_keyset_q_matches_rows_strictly_after_the_cursor() -> None:
    keys = [SortKey("real_name", True), SortKey("username"), SortKey("id")]
    after = ("Kim", "pg05", 7)

    def matches(q: Any, row: dict[str, Any]) -> bool:
        if q.children:
            results = [matches(child, row) for child in q.children]
            value = all(results) if q.join_type == "AND" else any(results)
        else:
            value = all(_lookup(k, v, row) for k, v in q.filters.items())
        return not value if q._is_negated else value

    rows = [
        {"real_name": rn, "username": un, "id": i}
        for rn in ("Abe", "Kim", "Zed")
        for un in ("pg01", "pg05", "pg09")
        for i in (3, 7, 9)
    ]
    q = keyset_q(keys, after)

    def sort_key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (-ord(r["real_name"][0]), r["username"], r["id"])

    expected = [
        r
        for r in rows
        if sort_key(r) > sort_key(dict(zip(["real_name", "username", "id"], after, strict=True)))
    ]
    assert [r for r in rows if matches(q, r)] == expected
    assert len(expected) == 9 + 3 + 1  # "Abe" rows, "Kim" + later username, same + later id


def _lookup(key: str, value: Any, row: dict[str, Any]) -> bool:
    column, _, op = key.partition("__")
    actual = row[column]
    return {"": actual == value, "gt": actual > value, "lt": actual < value}[op]


def test_cursor_round_trip() -> None:
    class Row:
        id = 42
        username = "ann"
        created_at = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    keys = [SortKey("created_at", True), SortKey("username"), SortKey("id", True)]
    cursor = encode_cursor(Row(), keys)  # type: ignore[arg-type]
    assert "=" not in cursor
    assert decode_cursor(User, cursor, keys) == [Row.created_at, "ann", 42]
    # the same values under another ordering are refused
    for other in (
        [SortKey("created_at"), SortKey("username"), SortKey("id", True)],
        [SortKey("created_at", True), SortKey("real_name"), SortKey("id", True)],
        [SortKey("created_at", True), SortKey("id", True)],
    ):
        with pytest.raises(ListError):
            decode_cursor(User, cursor, other)
    for garbage in ("", "%%%", "e30", base64.urlsafe_b64encode(b"[1, 2, 3]").decode()):
        with pytest.raises(ListError):
            decode_cursor(User, garbage, keys)
