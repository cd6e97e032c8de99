"""Filters are bounded and priced (issue 11): conditions, nesting, `in` lists and strings
have limits whose errors name the argument path, whether the filter is written in the
query or sent as a variable; filter conditions count toward the query cost; nested `not`
builds SQL that does not grow with the nesting and keeps the complement semantics."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from crm_graphql.app import create_app
from crm_graphql.models.users import User
from crm_graphql.schema.users import USER_FILTER_SPEC, UserFilter
from crm_graphql.services.listing import filter_q
from crm_graphql.settings import settings
from tests.factories import Api, error_codes, make_company, make_user

LIMITS = settings.limits


@pytest.fixture
async def admin(api: Api) -> Api:
    await make_user("boss", superadmin=True, password="boss-pass")
    api.tokens["boss"] = await api.login("boss", "boss-pass")
    return api


@asynccontextmanager
async def variant(api: Api, **limits: int) -> AsyncIterator[Api]:
    """An app with other limits on the same database (the session app owns the ORM)."""
    config = dataclasses.replace(settings, limits=dataclasses.replace(LIMITS, **limits))
    other = create_app(config)
    transport = httpx.ASGITransport(app=other, client=("10.0.0.4", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://variant") as http:
        variant_api = Api(http)
        variant_api.tokens = dict(api.tokens)
        yield variant_api


USERS = (
    "query($f: UserFilter) { users(filter: $f, first: 100) "
    "{ totalCount edges { node { username } } } }"
)


def usernames(data: dict[str, Any]) -> list[str]:
    return sorted(e["node"]["username"] for e in data["users"]["edges"])


async def users_with(admin: Api, flt: dict[str, Any]) -> list[str]:
    return usernames(await admin.data(USERS, {"f": flt}, as_user="boss"))


def one_error(body: dict[str, Any], code: str) -> dict[str, Any]:
    assert body.get("data") in (None, {"users": None}), body
    assert error_codes(body) == [code], body
    return body["errors"][0]


@pytest.fixture
async def people(admin: Api) -> Api:
    """Users with and without a company, for filters through a nullable relation."""
    acme = await make_company("Acme")
    other = await make_company("Other")
    await make_user("ann", company=acme, real_name="Ann")
    await make_user("bob", company=other, real_name="Bob")
    await make_user("cid", real_name="Cid")  # no company
    await make_user("dan", company=acme)
    return admin


ALL = ["ann", "bob", "boss", "cid", "dan"]


# ---------------------------------------------------------------------------------------
# Size and nesting


async def test_too_many_conditions_is_query_too_complex(people: Api) -> None:
    at_limit = {"or": [{"username": {"eq": f"u{i}"}} for i in range(LIMITS.max_filter_conditions)]}
    at_limit["or"][0] = {"username": {"eq": "ann"}}
    assert await users_with(people, at_limit) == ["ann"]
    over = {"or": [*at_limit["or"], {"username": {"eq": "bob"}}]}
    error = one_error(await people.gql(USERS, {"f": over}, as_user="boss"), "QUERY_TOO_COMPLEX")
    assert "filter" in error["message"]
    assert str(LIMITS.max_filter_conditions) in error["message"]
    # written into the query instead of a variable: the same answer
    literal = (
        "{ users(filter: {or: ["
        + ", ".join('{username: {eq: "x"}}' for _ in range(LIMITS.max_filter_conditions + 1))
        + "]}) { totalCount } }"
    )
    body = await people.gql(literal, as_user="boss")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body


async def test_or_and_with_thousands_of_conditions_are_client_errors(people: Api) -> None:
    for combinator in ("or", "and"):
        flt = {combinator: [{"username": {"contains": f"n{i}"}} for i in range(1500)]}
        one_error(await people.gql(USERS, {"f": flt}, as_user="boss"), "QUERY_TOO_COMPLEX")
        # empty branches are conditions too ("everything"), not a free way to nest
        flt = {combinator: [{} for _ in range(1500)]}
        one_error(await people.gql(USERS, {"f": flt}, as_user="boss"), "QUERY_TOO_COMPLEX")


def nested_not(levels: int, inner: dict[str, Any]) -> dict[str, Any]:
    flt = inner
    for _ in range(levels):
        flt = {"not": flt}
    return flt


async def test_nesting_deeper_than_the_limit_is_refused(people: Api) -> None:
    inner = {"username": {"eq": "ann"}}
    assert await users_with(people, nested_not(LIMITS.max_filter_depth, inner)) == [
        u for u in ALL if u != "ann"
    ]  # five levels: odd, so the complement
    for levels in (LIMITS.max_filter_depth + 1, 11, 40):
        error = one_error(
            await people.gql(USERS, {"f": nested_not(levels, inner)}, as_user="boss"),
            "QUERY_TOO_COMPLEX",
        )
        assert "filter.not.not" in error["message"]
    # relations count as a level
    deep = nested_not(LIMITS.max_filter_depth, {"company": {"name": {"eq": "Acme"}}})
    one_error(await people.gql(USERS, {"f": deep}, as_user="boss"), "QUERY_TOO_COMPLEX")


async def test_long_contains_is_bad_user_input_naming_the_path(people: Api) -> None:
    long = "a" * 50_001
    flt = {"or": [{"username": {"eq": "x"}} for _ in range(3)] + [{"realName": {"contains": long}}]}
    error = one_error(await people.gql(USERS, {"f": flt}, as_user="boss"), "BAD_USER_INPUT")
    assert "filter.or[3].realName.contains" in error["message"]
    just = "a" * LIMITS.max_filter_string_length
    assert await users_with(people, {"realName": {"contains": just}}) == []
    over = {"realName": {"contains": just + "a"}}
    one_error(await people.gql(USERS, {"f": over}, as_user="boss"), "BAD_USER_INPUT")
    # a variable inside a filter written in the query is checked all the same
    inside = "query($s: String) { users(filter: {realName: {contains: $s}}) { totalCount } }"
    error = one_error(await people.gql(inside, {"s": long}, as_user="boss"), "BAD_USER_INPUT")
    assert "filter.realName.contains" in error["message"]
    assert await people.data(inside, {"s": "An"}, as_user="boss") == {"users": {"totalCount": 1}}


async def test_huge_in_list_is_a_client_error(people: Api) -> None:
    ids = [str(i) for i in range(1, 100_001)]
    error = one_error(
        await people.gql(USERS, {"f": {"id": {"in": ids}}}, as_user="boss"), "QUERY_TOO_COMPLEX"
    )
    assert "filter.id.in" in error["message"]
    # the limit is on all `in` values of one filter together, so no statement can
    # approach the driver's 32,767 parameters
    half = LIMITS.max_filter_in_values // 2 + 1
    flt = {"or": [{"id": {"in": ids[:half]}}, {"username": {"in": [f"u{i}" for i in range(half)]}}]}
    one_error(await people.gql(USERS, {"f": flt}, as_user="boss"), "QUERY_TOO_COMPLEX")
    # at the limit it works, and finds the right rows
    ann = await User.get(username="ann")
    allowed = [str(ann.id), *ids[: LIMITS.max_filter_in_values - 1]]
    flt = {"id": {"in": allowed}, "username": {"eq": "ann"}}
    assert await users_with(people, flt) == ["ann"]


async def test_limits_apply_to_csv_exports_and_saved_searches(people: Api) -> None:
    import orjson

    flt = orjson.dumps(nested_not(LIMITS.max_filter_depth + 1, {"name": {"eq": "x"}})).decode()
    response = await people.client.get(
        "/export/companies.csv",
        params={"filter": flt},
        headers={"Authorization": f"Bearer {people.tokens['boss']}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "filter.not" in response.json()["errors"][0]["message"]
    data = await people.data(
        'mutation($f: JSON!) { leadSearchSave(name: "deep", filter: $f) '
        "{ errors { field code } } }",
        {"f": nested_not(LIMITS.max_filter_depth + 1, {"fullName": {"eq": "x"}})},
        as_user="boss",
    )
    assert data["leadSearchSave"]["errors"] == [{"field": "filter", "code": "INVALID"}]


# ---------------------------------------------------------------------------------------
# Strings longer than their column


async def test_filter_strings_longer_than_the_column_are_bad_user_input(admin: Api) -> None:
    cases = [
        ('{ invoiceTotals(filter: {currency: {eq: "EURO"}}) { currency } }', "filter.currency.eq"),
        (
            '{ invoiceStatistics(filter: {currency: {in: ["EUR", "EURO"]}}) '
            "{ totalsPerCurrency { currency } } }",
            "filter.currency.in",
        ),
        ('{ leads(filter: {currency: {gt: "EURO"}}) { totalCount } }', "filter.currency.gt"),
        (
            '{ leads(filter: {language: {neq: "xxxxxxxxxxxx"}}) { totalCount } }',
            "filter.language.neq",
        ),
        (
            '{ users(filter: {company: {name: {eq: "' + "n" * 300 + '"}}}) { totalCount } }',
            "filter.company.name.eq",
        ),
    ]
    for query, path in cases:
        body = await admin.gql(query, as_user="boss")
        assert error_codes(body) == ["BAD_USER_INPUT"], (query, body)
        assert path in body["errors"][0]["message"], body
    # at the column's length it is an ordinary filter
    body = await admin.gql(
        '{ invoiceTotals(filter: {currency: {eq: "EUR"}}) { currency } }', as_user="boss"
    )
    assert "errors" not in body, body


async def test_crm_templates_language_longer_than_the_column(admin: Api) -> None:
    body = await admin.gql('{ crmTemplates(language: "xxxxxxxxxxxx") { id } }', as_user="boss")
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert await admin.data('{ crmTemplates(language: "xxxxxxxxxx") { id } }', as_user="boss") == {
        "crmTemplates": []
    }


# ---------------------------------------------------------------------------------------
# Price


async def test_filter_conditions_count_toward_the_cost(people: Api) -> None:
    plain = "{ users(first: 1) { totalCount } }"
    cheap = await people.gql(plain, as_user="boss")
    assert "errors" not in cheap
    conditions = 40
    flt = {"or": [{"username": {"eq": f"u{i}"}} for i in range(conditions)]}
    literal_flt = (
        "{or: [" + ", ".join(f'{{username: {{eq: "u{i}"}}}}' for i in range(conditions)) + "]}"
    )
    copies = 6
    by_variable = (
        "query($f: UserFilter) { "
        + " ".join(f"a{i}: users(first: 1, filter: $f) {{ totalCount }}" for i in range(copies))
        + " }"
    )
    by_literal = (
        "{ "
        + " ".join(
            f"a{i}: users(first: 1, filter: {literal_flt}) {{ totalCount }}" for i in range(copies)
        )
        + " }"
    )
    # without filters these cost a handful; each condition adds its price
    fields_cost = copies * 2  # users, and totalCount under its one-row page
    cost = fields_cost + copies * conditions * LIMITS.filter_condition_cost
    async with variant(people, max_cost=cost) as at_limit:
        assert "errors" not in await at_limit.gql(by_variable, {"f": flt}, as_user="boss")
        assert "errors" not in await at_limit.gql(by_literal, as_user="boss")
    async with variant(people, max_cost=cost - 1) as below:
        for body in (
            await below.gql(by_variable, {"f": flt}, as_user="boss"),
            await below.gql(by_literal, as_user="boss"),
        ):
            assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
            assert body["errors"][0]["extensions"] == {
                "code": "QUERY_TOO_COMPLEX",
                "cost": cost,
                "limit": cost - 1,
            }


async def test_huge_page_size_literal_is_a_client_error(api: Api) -> None:
    response = await api.post("{ companies(first: 99999999999999999999) { totalCount } }")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert error_codes(body)
    for error in body["errors"]:
        for value in (error.get("extensions") or {}).values():
            assert not isinstance(value, int) or abs(value) < 2**53
    # a huge nested page size is priced at the nested cap, not at its face value
    nested = (
        "{ users(first: 100) { edges { node { assignments(first: 2147483647) { totalCount } } } } }"
    )
    response = await api.post(nested)
    assert response.status_code == 200, response.text
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------------------------------
# `not`


def sql_of(flt: UserFilter) -> str:
    return User.filter(filter_q(flt, USER_FILTER_SPEC, model=User)).sql()


def test_nested_not_sql_does_not_grow_with_the_nesting() -> None:
    from crm_graphql.schema.common import StringFilter

    plain = UserFilter(username=StringFilter(contains="a"))
    negated = UserFilter(not_=plain)
    wrapped_plain: UserFilter = plain
    wrapped_negated: UserFilter = negated
    for _ in range(20):  # 40 more levels: far past SQLite's parser stack
        wrapped_plain = UserFilter(not_=UserFilter(not_=wrapped_plain))
        wrapped_negated = UserFilter(not_=UserFilter(not_=wrapped_negated))
    assert sql_of(wrapped_plain) == sql_of(plain)
    assert sql_of(wrapped_negated) == sql_of(negated)
    assert sql_of(negated).upper().count("SELECT") == 1  # no complement subquery needed
    # De Morgan: not(or) is and(not), not(and) is or(not), with no subquery per level
    a = UserFilter(username=StringFilter(eq="a"))
    b = UserFilter(real_name=StringFilter(eq="b"))
    assert sql_of(UserFilter(not_=UserFilter(or_=[a, b]))) == sql_of(
        UserFilter(and_=[UserFilter(not_=a), UserFilter(not_=b)])
    )


async def run_sql_of(flt: UserFilter) -> list[str]:
    rows = await User.filter(filter_q(flt, USER_FILTER_SPEC, model=User)).order_by("username")
    return [u.username for u in rows]


async def test_deep_not_runs_on_the_database(people: Api) -> None:
    from crm_graphql.schema.common import StringFilter

    # 41 levels of `not`, straight through filter_q (the API refuses them): SQLite used
    # to fail with "parser stack overflow" at about 11
    flt = UserFilter(company=None, username=StringFilter(eq="ann"))
    for _ in range(41):
        flt = UserFilter(not_=flt)
    assert await run_sql_of(flt) == [u for u in ALL if u != "ann"]


NOT_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    # (nested not, the equivalent plain filter)
    ({"not": {"not": {"username": {"eq": "ann"}}}}, {"username": {"eq": "ann"}}),
    (
        {"not": {"or": [{"username": {"eq": "ann"}}, {"username": {"eq": "bob"}}]}},
        {"username": {"in": ["boss", "cid", "dan"]}},
    ),
    (
        {"not": {"and": [{"company": {"name": {"eq": "Acme"}}}, {"realName": {"eq": "Ann"}}]}},
        {"username": {"in": ["bob", "boss", "cid", "dan"]}},
    ),
    # NULL semantics: users without a company are not "in a company named Acme"
    ({"not": {"company": {"name": {"eq": "Acme"}}}}, {"username": {"in": ["bob", "boss", "cid"]}}),
    (
        {"not": {"not": {"not": {"company": {"name": {"contains": "acm"}}}}}},
        {"username": {"in": ["bob", "boss", "cid"]}},
    ),
    # realName is empty for boss and dan; `neq` under not keeps the complement
    ({"not": {"realName": {"neq": "Ann"}}}, {"username": {"eq": "ann"}}),
    (
        {
            "and": [
                {"not": {"company": {"id": {"isNull": True}}}},
                {"not": {"not": {"realName": {"in": ["Bob", "Ann"]}}}},
            ]
        },
        {"username": {"in": ["ann", "bob"]}},
    ),
    ({"not": {}}, {"username": {"in": []}}),
    ({"not": {"not": {}}}, {}),
    ({"or": [{}, {"username": {"eq": "ann"}}]}, {}),
    (
        {
            "not": {
                "or": [{"not": {"company": {"name": {"eq": "Other"}}}}, {"username": {"eq": "bob"}}]
            }
        },
        {"username": {"in": []}},
    ),
]


@pytest.mark.parametrize(("nested", "plain"), NOT_CASES)
async def test_nested_not_gives_the_same_rows_as_the_plain_filter(
    people: Api, nested: dict[str, Any], plain: dict[str, Any]
) -> None:
    got = await users_with(people, nested)
    assert got == await users_with(people, plain), nested
    # and each `not` is the complement of its filter among all users
    assert sorted(set(ALL) - set(await users_with(people, {"not": nested}))) == got
