"""`duplicates(type:, id:)` on the compiled path (issue 18's matching, issue 15's path):
the visible records that share a key with a visible record, with the rules matched and
the score `services.duplicates.score` gives, strongest first, in one statement, exactly
as the executor answers for the seven viewers of the differential world; a refused
entity, an invisible, unknown or malformed id is the executor's error."""

from __future__ import annotations

from typing import Any

import pytest

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.leads import Lead
from tests.differential import VIEWERS, Differential, compiled_ran, counted

QUERY = """query D($type: DuplicateEntity!, $id: ID!) { duplicates(type: $type, id: $id) {
  __typename id rules score
  company { name fiscalId website parent { name } contracts(first: 1) { totalCount } }
  contact { fullName email phone mobile company { name } }
  lead { fullName email phone mobile owner { username } tags { name }
    changeHistory(first: 1) { edges { cursor } } } } }"""

TARGETS: list[tuple[Any, str, str]] = [
    (Company, "name", "Child 03 Beta"),
    (Company, "name", "Child 07 Alpha"),
    (Contact, "full_name", "Person 00-0"),
    (Contact, "full_name", "Person 02-0"),
    (Lead, "full_name", "Lead 06"),
    (Lead, "full_name", "Lead 03"),  # no duplicates
]


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_duplicates_are_one_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    matched = 0
    for model, column, name in TARGETS:
        record = await model.get(**{column: name})
        kind = model.__name__.upper()
        variables = {"type": kind, "id": str(record.id)}
        body, statements = await counted(paths, QUERY, variables, world[viewer])
        if body.get("errors"):
            # No list bits, or a record the viewer cannot see: the executor's error.
            code = body["errors"][0]["extensions"]["code"]
            assert code in ("FORBIDDEN", "NOT_FOUND"), body
            # An invisible target costs the statement that finds no target.
            assert code == "NOT_FOUND" or not compiled_ran(statements)
            continue
        assert len(statements) == 1 and compiled_ran(statements), statements
        found = body["data"]["duplicates"]
        matched += len(found)
        scores = [c["score"] for c in found]
        assert scores == sorted(scores, reverse=True)
    if viewer == "admin":
        assert matched >= 10


@pytest.mark.parametrize(
    "variables",
    [
        {"type": "LEAD", "id": "999999"},
        {"type": "COMPANY", "id": "x"},
        {"type": "CONTACT", "id": "0"},
    ],
)
async def test_unknown_targets_are_the_executors(
    paths: Differential, world: dict[str, str], variables: dict[str, str]
) -> None:
    body, statements = await counted(paths, QUERY, variables, world["admin"])
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    # A malformed id costs no compiled statement; an unknown one the one finding nothing.
    assert compiled_ran(statements) == (variables["id"] == "999999")
