"""Input at the edges (issue 11, "Found" item 3): ids, integers, strings, dates, NUL
bytes and multipart maps a client can send that no column or parser can hold. Each is a
client error (HTTP 4xx, or a GraphQL error with BAD_USER_INPUT/NOT_FOUND/...), never an
internal error, and never a traceback in the log."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from starlette.applications import Starlette

from crm_graphql.app import create_app
from crm_graphql.models.companies import Company
from crm_graphql.models.files import StoredFile
from crm_graphql.models.leads import Lead
from crm_graphql.settings import settings
from tests.factories import Api, error_codes, make_lead

INTERNAL = "INTERNAL_SERVER_ERROR"
CLIENT_CODES = {"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "QUERY_TOO_COMPLEX"}
HUGE = "99999999999999999999"  # beyond 64 bits
INT64_MAX = "9223372036854775807"  # fits 64 bits, not an int column


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    """None of these inputs may log an error (a traceback) on the server."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def assert_client_error(response: httpx.Response, *codes: str) -> dict[str, Any]:
    assert response.status_code < 500, response.text
    body = response.json()
    found = error_codes(body)
    assert found, body
    assert INTERNAL not in found, body
    assert set(found) <= set(codes or CLIENT_CODES), body
    return body


# ---------------------------------------------------------------------------------------
# A page size beyond 64 bits


@pytest.fixture
async def production(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    config = dataclasses.replace(settings, mode="production", introspection=False, graphiql=False)
    prod = create_app(config)
    async with prod.router.lifespan_context(prod):
        transport = httpx.ASGITransport(app=prod, client=("10.0.0.3", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://prod") as http:
            yield http


@pytest.mark.parametrize("first", [HUGE, "-" + HUGE, INT64_MAX, "2147483648"])
async def test_huge_page_size_is_a_client_error(
    api: Api, production: httpx.AsyncClient, first: str
) -> None:
    query = f"{{ companies(first: {first}) {{ totalCount }} }}"
    for client in (api.client, production):
        response = await client.post("/graphql", json={"query": query})
        body = assert_client_error(response, "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")
        assert "Int cannot represent" in body["errors"][0]["message"] or "first" in str(body)


# ---------------------------------------------------------------------------------------
# Ids beyond the columns


ID_MUTATIONS = [
    "invoiceLock",
    "invoiceUnlock",
    "invoiceDelete",
    "companyRoleDelete",
    "contractTypeDelete",
    "activityDelete",
]


@pytest.mark.parametrize("field", ID_MUTATIONS)
async def test_out_of_range_ids_in_delete_and_lock(demo: Api, field: str) -> None:
    """A payload error on `id`: NOT_FOUND for a positive number no row can have,
    INVALID for anything else."""
    expected = {HUGE: "NOT_FOUND", INT64_MAX: "NOT_FOUND", "2147483648": "NOT_FOUND"}
    for value in [HUGE, INT64_MAX, "2147483648", "-" + HUGE, "0", "x"]:
        response = await demo.post(
            f'mutation {{ {field}(id: "{value}") {{ errors {{ field code }} }} }}',
            as_user="admin",
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        errors = body["data"][field]["errors"]
        assert errors == [{"field": "id", "code": expected.get(value, "INVALID")}], (value, body)


def _sample(
    type_: Any,
    id_value: str,
    depth: int = 0,
    *,
    text: str = "x",
    number: int = 1,
    decimal: str = "1",
    every_field: bool = False,
) -> Any:
    """A value of `type_` for a GraphQL variable: every id `id_value`, every string
    `text`, every integer `number`; input objects with their required fields and ids
    (with `every_field`, also their optional strings and integers)."""
    more = {"text": text, "number": number, "decimal": decimal, "every_field": every_field}
    if isinstance(type_, GraphQLNonNull):
        return _sample(type_.of_type, id_value, depth, **more)
    if isinstance(type_, GraphQLList):
        return [_sample(type_.of_type, id_value, depth, **more)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        if depth > 2:
            return {}
        out: dict[str, Any] = {}
        for name, field in type_.fields.items():
            named = field.type
            while isinstance(named, (GraphQLNonNull, GraphQLList)):
                named = named.of_type
            scalar = named.name if isinstance(named, GraphQLScalarType) else ""
            wanted = scalar == "ID" or (every_field and scalar in {"String", "Int", "Decimal"})
            if isinstance(field.type, GraphQLNonNull) or wanted:
                out[name] = _sample(field.type, id_value, depth + 1, **more)
        return out
    assert isinstance(type_, GraphQLScalarType)
    return {
        "ID": id_value,
        "Int": number,
        "Float": 1.0,
        "String": text,
        "Boolean": False,
        "Date": "2024-01-01",
        "DateTime": "2024-01-01T00:00:00Z",
        "Decimal": decimal,
        "JSON": {},
        "Upload": None,
    }.get(named_name(type_), text)


def named_name(type_: Any) -> str:
    return type_.name


def _takes_ids(field: Any) -> bool:
    def has_id(type_: Any, depth: int = 0) -> bool:
        while isinstance(type_, (GraphQLNonNull, GraphQLList)):
            type_ = type_.of_type
        if isinstance(type_, GraphQLScalarType):
            return type_.name == "ID"
        if isinstance(type_, GraphQLInputObjectType) and depth < 3:
            return any(has_id(f.type, depth + 1) for f in type_.fields.values())
        return False

    return any(has_id(a.type) for a in field.args.values())


def _operations(app: Starlette) -> list[tuple[str, str, Any]]:
    schema = app.state.schema._schema
    found = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in root.fields.items():
            if _takes_ids(field) and name not in {"login", "logout"}:
                found.append((kind, name, field))
    return found


def _document(kind: str, name: str, field: Any) -> str:
    from graphql import GraphQLObjectType, get_named_type

    variables = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    arguments = ", ".join(f"{a}: ${a}" for a in field.args)
    target = get_named_type(field.type)
    selection = " { __typename }" if isinstance(target, GraphQLObjectType) else ""
    head = f"{kind} ({variables})" if variables else kind
    call = f"{name}({arguments})" if arguments else name
    return f"{head} {{ {call}{selection} }}"


@pytest.mark.parametrize("id_value", [HUGE, INT64_MAX, "2147483648", "-2147483649"])
async def test_every_id_argument_is_range_checked(demo: Api, app: Starlette, id_value: str) -> None:
    """Every root field taking an id (directly or in its input), called by a superadmin
    with every id out of range: a client error or a payload error, never an internal
    one."""
    failures = []
    for kind, name, field in _operations(app):
        variables = {a: _sample(arg.type, id_value) for a, arg in field.args.items()}
        response = await demo.post(_document(kind, name, field), variables, as_user="admin")
        if response.status_code >= 500 or INTERNAL in response.text:
            failures.append((name, response.status_code, response.text[:300]))
    assert failures == []


# ---------------------------------------------------------------------------------------
# FieldError outside a payload


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ customFields(entity: LEAD, ownerId: "") { id } }', "ownerId"),
        (f'{{ customFields(entity: LEAD, ownerId: "{HUGE}") {{ id }} }}', "ownerId"),
        ('{ outgoingMails(leadId: "") { totalCount } }', "leadId"),
        (f'{{ outgoingMails(leadId: "{HUGE}") {{ totalCount }} }}', "leadId"),
        ("mutation { leadsChangeTags(ids: [], remove: [-1]) { __typename } }", "remove"),
        ('mutation { leadsChangeTags(ids: ["1"], add: [1448]) { __typename } }', "add"),
        (f'mutation {{ leadsChangeTags(ids: ["1"], add: ["{HUGE}"]) {{ __typename }} }}', "add"),
    ],
)
async def test_field_errors_outside_a_payload(demo: Api, query: str, field: str) -> None:
    response = await demo.post(query, as_user="admin")
    body = assert_client_error(response, "BAD_USER_INPUT")
    [error] = body["errors"]
    assert error["extensions"]["field"] == field, body
    assert error["extensions"]["reason"] in {"INVALID", "NOT_FOUND"}, body
    assert field in error["message"], body


# ---------------------------------------------------------------------------------------
# Plain string arguments longer than their column, or holding a NUL byte


def _string_fields(app: Starlette) -> list[tuple[str, str, Any]]:
    """Root fields with a plain (not filter, not input object) String argument."""
    schema = app.state.schema._schema
    found = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in root.fields.items():
            for arg in field.args.values():
                named = arg.type
                while isinstance(named, (GraphQLNonNull, GraphQLList)):
                    named = named.of_type
                if isinstance(named, GraphQLScalarType) and named.name == "String":
                    found.append((kind, name, field))
                    break
    return found


@pytest.mark.parametrize("text", ["x" * 5000, "a\x00b"])
async def test_plain_string_arguments_are_checked(demo: Api, app: Starlette, text: str) -> None:
    failures = []
    fields = _string_fields(app)
    assert any(name == "crmTemplates" for _, name, _ in fields)
    for kind, name, field in fields:
        if name in {"login", "logout"}:
            continue
        variables = {}
        for a, arg in field.args.items():
            named = arg.type
            while isinstance(named, (GraphQLNonNull, GraphQLList)):
                named = named.of_type
            if isinstance(named, GraphQLScalarType) and named.name == "String":
                variables[a] = (
                    [text]
                    if isinstance(getattr(arg.type, "of_type", arg.type), GraphQLList)
                    else text
                )
            else:
                variables[a] = _sample(arg.type, "1")
        response = await demo.post(_document(kind, name, field), variables, as_user="admin")
        if response.status_code >= 500 or INTERNAL in response.text:
            failures.append((name, response.status_code, response.text[:300]))
    assert failures == []


async def test_overlong_template_language(demo: Api) -> None:
    response = await demo.post('{ crmTemplates(language: "xxxxxxxxxxxx") { id } }', as_user="admin")
    body = assert_client_error(response, "BAD_USER_INPUT")
    assert "language" in json.dumps(body["errors"])


# ---------------------------------------------------------------------------------------
# NUL bytes


NUL_CASES = [
    # a filter, as a literal (GraphQL escape) and as a variable
    ('{ companies(filter: {name: {eq: "a\\u0000b"}}) { totalCount } }', None),
    (
        "query($f: CompanyFilter) { companies(filter: $f) { totalCount } }",
        {"f": {"name": {"contains": "a\x00b"}}},
    ),
    ('{ companies(filter: {search: "a\\u0000"}) { totalCount } }', None),
    # a stored value
    (
        "mutation($i: CompanyCreateInput!) { companyCreate(input: $i) { company { id } } }",
        {"i": {"name": "Evil\x00Corp"}},
    ),
    (
        'mutation { companyCreate(input: {name: "Evil\\u0000Corp"}) { company { id } } }',
        None,
    ),
    # in a key of a JSON value
    (
        'mutation($f: JSON!) { leadSearchSave(name: "n", filter: $f) { errors { code } } }',
        {"f": {"search\x00": "b"}},
    ),
]


@pytest.mark.parametrize(("query", "variables"), NUL_CASES)
async def test_nul_bytes_are_refused(demo: Api, query: str, variables: Any) -> None:
    before = await Company.all().count()
    response = await demo.post(query, variables, as_user="admin")
    body = assert_client_error(response, "BAD_USER_INPUT")
    assert "NUL" in body["errors"][0]["message"], body
    if variables:
        assert body["errors"][0]["extensions"]["variable"].startswith("$"), body
    assert await Company.all().count() == before


# ---------------------------------------------------------------------------------------
# Dates and times at the ends of the calendar


def _cursor_with(cursor: str, value: str) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload[1] = value
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


EXTREMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("value", EXTREMES)
async def test_extreme_cursor_is_bad_user_input(demo: Api, value: str) -> None:
    query = """query($after: String) {
      companies(first: 1, orderBy: [{field: LAST_UPDATE}], after: $after) {
        edges { cursor } } }"""
    data = await demo.data(query, as_user="admin")
    cursor = data["companies"]["edges"][0]["cursor"]
    response = await demo.post(query, {"after": _cursor_with(cursor, value)}, as_user="admin")
    assert_client_error(response, "BAD_USER_INPUT")


@pytest.mark.parametrize("value", EXTREMES)
async def test_extreme_datetime_filter_is_bad_user_input(demo: Api, value: str) -> None:
    for op in ("eq", "lt", "gte"):
        response = await demo.post(
            f'{{ companies(filter: {{lastUpdate: {{{op}: "{value}"}}}}) {{ totalCount }} }}',
            as_user="admin",
        )
        assert_client_error(response, "BAD_USER_INPUT")
        response = await demo.post(
            "query($f: CompanyFilter) { companies(filter: $f) { totalCount } }",
            {"f": {"lastUpdate": {op: value}}},
            as_user="admin",
        )
        assert_client_error(response, "BAD_USER_INPUT")


@pytest.mark.parametrize("value", EXTREMES)
async def test_extreme_datetime_in_a_mutation_input(demo: Api, value: str) -> None:
    lead = await make_lead("Edge", email="edge@example.com")
    response = await demo.post(
        "mutation($i: LeadUpdateInput!) { leadUpdate(input: $i) { errors { field code } } }",
        {"i": {"id": str(lead.id), "alarmAt": value}},
        as_user="admin",
    )
    assert_client_error(response, "BAD_USER_INPUT")
    await lead.refresh_from_db()
    assert lead.alarm_at is None or lead.alarm_at.year not in (1, 9999)


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
async def test_extreme_dates_in_invoices(demo: Api, value: str) -> None:
    company = await Company.get(name="Customer #A")
    response = await demo.post(
        "mutation($i: InvoiceCreateInput!) { invoiceCreate(input: $i) { errors { field } } }",
        {"i": {"companyId": str(company.id), "issuedOn": value, "expiresOn": "9999-12-31"}},
        as_user="admin",
    )
    assert response.status_code == 200, response.text
    assert INTERNAL not in response.text, response.text


# ---------------------------------------------------------------------------------------
# Multipart requests whose map does not fit the operation


UPLOAD_ONE = """mutation($input: FileUploadInput!) {
  fileUpload(input: $input) { file { id } errors { field code } } }"""
UPLOAD_TWO = """mutation($a: FileUploadInput!, $b: FileUploadInput!) {
  a: fileUpload(input: $a) { file { id } errors { field code } }
  b: fileUpload(input: $b) { file { id } errors { field code } } }"""


def _input(owner: str) -> dict[str, Any]:
    return {"ownerKind": "COMPANY", "ownerId": owner, "file": None}


MULTIPART_CASES: list[tuple[str, Any, Any]] = [
    # (query, variables, map)
    (UPLOAD_ONE, {"input": _input("OWNER"), "f": None}, {"0": ["variables.f.0"]}),
    (UPLOAD_ONE, {"input": _input("OWNER"), "f": "text"}, {"0": ["variables.f.0"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": ["variables.input.file.0"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": ["variables.nope.file"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": ["query"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": ["variables"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": ["variables.input.ownerKind.x"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": ["variables.input.file"], "9": ["x"]}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": "variables.input.file"}),
    (UPLOAD_ONE, {"input": _input("OWNER")}, ["variables.input.file"]),
    (UPLOAD_ONE, {"input": _input("OWNER")}, {"0": [1]}),
    (
        UPLOAD_TWO,
        {"a": _input("OWNER"), "b": _input("OWNER")},
        {"0": ["variables.a.file", "variables.b.file"]},
    ),
]


async def _owner(demo: Api) -> str:
    return str((await Company.get(name="Customer #A")).id)


async def test_multipart_map_mismatch_is_400(demo: Api) -> None:
    owner = await _owner(demo)
    for query, variables, mapping in MULTIPART_CASES:
        operations = json.loads(
            json.dumps({"query": query, "variables": variables}).replace("OWNER", owner)
        )
        response = await demo.client.post(
            "/graphql",
            headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
            data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
            files={"0": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        )
        assert response.status_code == 400, (mapping, response.text)
        body = response.json()
        assert "map" in body["errors"][0]["message"], body
        assert error_codes(body) == ["BAD_REQUEST"], body
    assert await StoredFile.all().count() == 0
    # the well-formed request still works
    good = {"query": UPLOAD_ONE, "variables": {"input": _input(owner)}}
    response = await demo.client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
        data={"operations": json.dumps(good), "map": '{"0": ["variables.input.file"]}'},
        files={"0": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
    )
    assert response.json()["data"]["fileUpload"]["errors"] == [], response.text


@pytest.mark.parametrize(
    ("operations", "mapping"),
    [
        ("{not json", '{"0": ["variables.input.file"]}'),
        (None, "{not json"),
        ("[]", '{"0": ["variables.input.file"]}'),
        ('"text"', '{"0": ["variables.input.file"]}'),
        (None, "null"),
        (None, None),
    ],
)
async def test_multipart_malformed_json_is_400(
    demo: Api, operations: str | None, mapping: str | None
) -> None:
    owner = await _owner(demo)
    if operations is None:
        operations = json.dumps({"query": UPLOAD_ONE, "variables": {"input": _input(owner)}})
    data = {"operations": operations}
    if mapping is not None:
        data["map"] = mapping
    response = await demo.client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
        data=data,
        files={"0": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"]


# ---------------------------------------------------------------------------------------
# /include/api.php with values no column holds

API_PHP = "/include/api.php"
LONG = "x" * 5000


async def _web_token(api: Api, username: str, scope: str) -> str:
    data = await api.data(
        """mutation($input: ApiTokenCreateInput!) {
          apiTokenCreate(input: $input) { secret errors { code } } }""",
        {"input": {"name": f"{scope} token", "scope": scope}},
        as_user=username,
    )
    return data["apiTokenCreate"]["secret"]


API_PHP_CASES = [
    {"tags": "t" * 61},
    {"tags": LONG},
    {"tags": "Hot," + "t" * 61, "tags_token": ","},
    {"owner": LONG},
    {"fullname": LONG},
    {"company": LONG},
    {"email": LONG + "@example.com"},
    {"country": LONG},
    {"phone": LONG},
    {"mobile": LONG},
    {"position": LONG},
    {"language": LONG},
    {"comments": "c" * 200_000},
    {"estimated_sale": "9" * 5000},
    {"estimated_sale": "1e999999"},
    {"progress": "9" * 30},
    {"progress": "-" + "9" * 30},
    {"id_category": "9" * 30},
    {"id_company": "9" * 30},
    {"id_company": INT64_MAX},
    {"tags_token": LONG, "tags": "a"},
    {"fullname": "Nul\x00Name"},
    {"tags": "Hot\x00"},
]


@pytest.mark.parametrize("scope", ["LEADS_CREATE", "FULL"])
async def test_api_php_overlong_values_are_client_errors(demo: Api, scope: str) -> None:
    token = await _web_token(demo, "admin" if scope == "FULL" else "manager1", scope)
    for values in API_PHP_CASES:
        params = {
            "op": "create_lead",
            "pass": token,
            "fullname": "Ann",
            "company": "Acme",
            "email": "ann@acme.example",
            **values,
        }
        response = await demo.client.post(API_PHP, data=params)
        assert response.status_code in (400, 403, 413), (values, response.headers)
        assert response.text == "0"
        assert "internal" not in response.headers["x-crm-error"], response.headers
    assert await Lead.all().count() == 0


@pytest.mark.parametrize(
    ("text", "number", "decimal"),
    [
        ("x" * 5000, 1, "1"),
        ("x", 2**31 - 1, "9" * 40),
        ("x", -(2**31), "-1e999999"),
        ("x", 1, "NaN"),
        ("x", 1, "Infinity"),
        ("x", 1, "0.000000000000000000001"),
    ],
    ids=["long-strings", "max-int", "min-int", "nan", "infinity", "tiny"],
)
async def test_every_field_with_extreme_values(
    demo: Api, app: Starlette, text: str, number: int, decimal: str
) -> None:
    """Every root field with arguments, called by a superadmin with every string and
    integer of its input at an extreme: a client error or a payload error, never an
    internal one."""
    schema = app.state.schema._schema
    failures = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in root.fields.items():
            if not field.args or name in {"login", "logout", "passwordChange"}:
                continue
            variables = {
                a: _sample(
                    arg.type, "1", text=text, number=number, decimal=decimal, every_field=True
                )
                for a, arg in field.args.items()
            }
            response = await demo.post(_document(kind, name, field), variables, as_user="admin")
            if response.status_code >= 500 or INTERNAL in response.text:
                failures.append((name, response.status_code, response.text[:300]))
    assert failures == []


async def test_overlong_unique_name_is_a_payload_error(demo: Api) -> None:
    before = await Company.all().count()
    data = await demo.data(
        "mutation($i: CompanyCreateInput!) { companyCreate(input: $i) { "
        "company { id } errors { field code message } } }",
        {"i": {"name": "n" * 5000}},
        as_user="admin",
    )
    assert data["companyCreate"]["company"] is None
    [error] = data["companyCreate"]["errors"]
    assert (error["field"], error["code"]) == ("name", "TOO_LARGE"), error
    assert "nnnn" not in error["message"]
    assert await Company.all().count() == before


@pytest.mark.parametrize(
    "query",
    [
        '{ invoiceTotals(filter: {currency: {eq: "EURO"}}) { __typename } }',
        '{ invoiceStatistics(filter: {currency: {eq: "EURO"}}) { __typename } }',
        '{ leads(filter: {currency: {eq: "EURO"}}) { totalCount } }',
        '{ leads(filter: {currency: {in: ["EUR", "EURO"]}}) { totalCount } }',
    ],
)
async def test_filter_strings_longer_than_their_column(demo: Api, query: str) -> None:
    response = await demo.post(query, as_user="admin")
    body = assert_client_error(response, "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    assert "currency" in body["errors"][0]["message"], body


@pytest.mark.parametrize(
    "query",
    [
        '{ companies(filter: {search: "\u00b2"}) { totalCount } }',
        '{ companies(filter: {search: "99999999999999999999"}) { totalCount } }',
        '{ leads(filter: {search: "\u00b2"}) { totalCount } }',
        '{ leads(filter: {search: "99999999999999999999"}) { totalCount } }',
        '{ companies(filter: {customFields: [{fieldId: "99999999999999999999", eq: "a"}]}) '
        "{ totalCount } }",
        '{ companies(filter: {customFields: [{fieldId: "\u00b2", eq: "a"}]}) { totalCount } }',
    ],
)
async def test_digit_like_search_and_field_ids(demo: Api, query: str) -> None:
    """Text that looks like an id ("²" is a digit to Python, not to int()) finds
    nothing or is refused, never an internal error."""
    response = await demo.post(query, as_user="admin")
    assert response.status_code == 200, response.text
    body = response.json()
    assert INTERNAL not in error_codes(body), body
    if "errors" in body:
        assert set(error_codes(body)) == {"BAD_USER_INPUT"}, body
    else:
        assert next(iter(body["data"].values()))["totalCount"] == 0, body


@pytest.mark.parametrize(
    "url",
    [
        "/export/contracts.csv?contractType=%C2%B2",
        "/export/contracts.csv?contractType=99999999999999999999",
        "/export/leads.csv?leadType=%C2%B2",
        "/export/leads.csv?leadType=99999999999999999999",
    ],
)
async def test_export_id_parameters(demo: Api, url: str) -> None:
    response = await demo.client.get(
        url, headers={"Authorization": f"Bearer {demo.tokens['admin']}"}
    )
    assert response.status_code == 400, response.text
    assert "not a valid id" in response.text


# ---------------------------------------------------------------------------------------
# CSV imports: cells no column holds


@pytest.mark.parametrize(
    "values",
    [
        {"payment conditions": "\u00b2"},
        {"id parent": "\u00b2"},
        {"id parent": "99999999999999999999"},
        {"id company role": "99999999999999999999"},
        {"name": "Nul\x00Name"},
        {"comments": "a\x00b"},
        {"name": "n" * 5000},
    ],
)
async def test_company_import_bad_cells(demo: Api, values: dict[str, str]) -> None:
    from tests.csvdata import SPEC_COLUMNS, to_csv
    from tests.csvdata import upload as csv_upload

    row = dict.fromkeys(SPEC_COLUMNS, "")
    row.update({"name": "Imported", "payment conditions": "30", **values})
    before = await Company.all().count()
    result = await csv_upload(demo, to_csv([SPEC_COLUMNS, [row[c] for c in SPEC_COLUMNS]]))
    assert result["created"] == 0, result
    assert result["rowErrors"] or result["errors"], result
    assert await Company.all().count() == before


async def test_contact_and_contract_imports_with_overlong_names(demo: Api) -> None:
    from crm_graphql.models.contacts import Contact
    from crm_graphql.models.contracts import Contract
    from crm_graphql.services.exports.contacts import CONTACT_COLUMNS
    from tests.csvdata import contract_row, to_csv
    from tests.csvdata import upload as csv_upload

    long = "c" * 5000
    contact = [long, "Zed", "zed@x.example", "", "", "", "", ""]
    result = await csv_upload(
        demo, to_csv([list(CONTACT_COLUMNS), contact]), mutation="contactImport"
    )
    assert result["created"] == 0 and result["rowErrors"], result
    for cells in (contract_row(long, "Customer #A"), contract_row("R1", long)):
        from crm_graphql.services.exports.contracts import CONTRACT_COLUMNS

        result = await csv_upload(
            demo, to_csv([list(CONTRACT_COLUMNS), cells]), mutation="contractImport"
        )
        assert result["created"] == 0 and result["rowErrors"], result
    assert await Contact.all().count() == 0
    assert await Contract.all().count() == 0
