"""CustomFieldValue.number on the compiled read path (issue 15): `str(Decimal(text))`
of the stored text computed in SQL for the forms services.customfields.canonical
writes (and any `-?digits[.digits]`); any other text makes the statement fail on
purpose (`Dialect.fallback`) and the executor answers, errors included."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tortoise import Tortoise

from crm_graphql.compiled.sql import Dialect, is_fallback
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.services.sqlcount import count_statements
from tests.differential import (
    VIEWERS,
    Differential,
    compiled_statements,
)
from tests.factories import make_custom_field, make_custom_value

# Stored texts Decimal prints as they are, without leading zeros, or with an exponent.
PLAIN = [
    "0",
    "-0",
    "7",
    "-12.5",
    "12.50",
    "1000000",
    "00012.034",
    "0.000001",
    "0.0000010",
    "0.0000001",
    "-0.0000001",
    "0.00000012",
    "0.000000123400",
    "0.0000000",
    "-0.00000",
    "0.000000",
    "123456789012345678901234567890.5",
    "0.1",
    "-000.000",
]
# Texts Decimal reads that the SQL does not print: the executor answers them.
OTHER = ["1E+5", "1e-7", "+5", " 5", ".5", "5.", "1_000", "Infinity", "abc", ""]


async def _printed(text: str) -> str:
    connection = Tortoise.get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    value = "CAST($1 AS text)" if postgres else "?"
    sql = f"SELECT {Dialect(postgres).decimal_text('v.x')} AS n FROM (SELECT {value} AS x) v"
    rows = await connection.execute_query_dict(sql, [text])
    return str(rows[0]["n"])


async def test_the_sql_prints_a_stored_number_as_decimal_does() -> None:
    for text in PLAIN:
        assert await _printed(text) == str(Decimal(text)), text
    for text in OTHER:
        with pytest.raises(Exception) as failed:
            await _printed(text)
        assert is_fallback(failed.value), (text, failed.value)


QUERY = """{ companies(first: 50, filter: {name: {contains: "Child"}}, orderBy: [{field: NAME}])
  { edges { node { name customFields { name kind value number } } } } }"""


async def _values(texts: list[str]) -> None:
    amount = await make_custom_field(CustomFieldEntity.COMPANY, name="Amount", kind="NUMERIC")
    children = await Company.filter(name__startswith="Child").order_by("name")
    for company, text in zip(children, texts, strict=False):
        await make_custom_value(amount, company.id, text)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_numbers_are_answered_compiled_and_identically(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    await _values(PLAIN[:12])
    answer, statements = await compiled_statements(paths, QUERY, world[viewer])
    body: Any = answer.body
    if "errors" in body:  # no CR: refused by the executor
        assert viewer in ("user2", "lead_seller"), body
        return
    assert len(statements) == 1 and "crm_node" in statements[0], statements
    if viewer == "admin":
        numbers = [
            v["number"]
            for e in body["data"]["companies"]["edges"]
            for v in e["node"]["customFields"]
            if v["name"] == "Amount" and v["value"] is not None
        ]
        assert {"1E-7", "-1E-7", "1.2E-7", "0.0000010", "12.034"} <= set(numbers), numbers


@pytest.mark.parametrize("text", ["1E+5", "abc"])
async def test_a_number_the_sql_does_not_print_is_the_executors(
    paths: Differential, world: dict[str, str], text: str
) -> None:
    await _values(["12.5", text])
    with count_statements() as statements:
        answer = await paths.check(QUERY, None, world["admin"], text)
    assert any("crm_node" in s for s in statements), "the compiled statement was tried"
    body: Any = answer.body
    if text == "abc":  # Decimal("abc") fails in the resolver: the executor's error
        assert body.get("errors"), body
        return
    numbers = [
        v["number"]
        for e in body["data"]["companies"]["edges"]
        for v in e["node"]["customFields"]
        if v["name"] == "Amount" and v["value"] is not None
    ]
    assert "1E+5" in numbers, numbers
