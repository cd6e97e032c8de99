"""The lead pipeline on the compiled path (issue 15): the steps in code order with their
counts, estimated sales per currency and first leads (the lead list's Lead objects), in
one statement whatever the number of leads and steps, answering exactly as the executor
does for the seven viewers of the differential world; bad input is the executor's."""

from __future__ import annotations

from typing import Any

import pytest

from crm_graphql.models.leads import Lead
from tests.differential import (
    VIEWERS,
    Differential,
    compiled_ran,
    counted,
    load_corpus,
    on_postgres,
)

PIPELINE = """query P($filter: LeadFilter, $order: LeadPipelineOrder, $closed: Boolean, $n: Int) {
  leadPipeline(filter: $filter, orderBy: $order, includeClosed: $closed, first: $n) {
    progress { code name closed } count estimatedSales { currency amount } hasMoreLeads
    leads { id fullName estimatedSale progress { code } owner { username }
      changeHistory(first: 1) { edges { cursor } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_pipeline_is_one_statement(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    for variables in ({"n": 1}, {"closed": True, "order": "CLOSE_DATE", "n": 50}):
        body, statements = await counted(paths, PIPELINE, variables, world[viewer])
        if body.get("errors"):  # no lead bits: the executor refuses
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert not compiled_ran(statements)
            assert viewer in ("invoice_reader", "user2"), body
            return
        assert len(statements) == 1 and compiled_ran(statements), statements
        steps = body["data"]["leadPipeline"]
        codes = [s["progress"]["code"] for s in steps]
        assert codes == sorted(codes) and len(codes) == (9 if variables.get("closed") else 5)
        for step in steps:
            assert len(step["leads"]) == min(step["count"], variables["n"])
            assert step["hasMoreLeads"] == (step["count"] > variables["n"])
        if viewer == "admin" and variables.get("closed"):
            assert sum(s["count"] for s in steps) == await Lead.all().count()


@pytest.mark.parametrize(
    "variables",
    [
        {"n": 51},  # over the cap
        {"n": -1},
        # a relation filter on a value of the wrong kind: the resolver's BAD_USER_INPUT
        {"filter": {"id": {"eq": "x"}}},
    ],
)
async def test_bad_input_is_the_executors(
    paths: Differential, world: dict[str, str], variables: dict[str, Any]
) -> None:
    body, statements = await counted(paths, PIPELINE, variables, world["manager1"])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert not compiled_ran(statements)


@pytest.mark.parametrize("viewer", ["admin", "manager1", "lead_seller"])
async def test_the_corpus_pipeline_runs_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    (case,) = [c for c in load_corpus() if c.name == "lead_pipeline"]
    for variables in case.variables:
        body, statements = await counted(paths, case.query, variables, world[viewer])
        assert "errors" not in body, body
        assert len(statements) == 1 and compiled_ran(statements), (variables, statements)


# Leads, their owner's company and its invoices' totals inside the pipeline's steps: a
# statement too deep for SQLite's parser (a generated query found it).
DEEP = """{ leadPipeline(first: 3) { count leads { owner { realName
  assignments(first: 1) { edges { cursor node { createdAt } } } permissions
  company { website invoices(first: 3) { totalCount edges { node { taxTotal expiresOn } } }
    role { name } } } estimatedSale } } }"""


async def test_a_statement_too_deep_for_sqlite_is_the_executors(
    paths: Differential, world: dict[str, str]
) -> None:
    # The same answer either way; on SQLite the executor's, without a failure logged
    # (the autouse fixture fails a test that logs one); on PostgreSQL one statement.
    body, statements = await counted(paths, DEEP, None, world["admin"])
    assert "errors" not in body and body["data"]["leadPipeline"], body
    if on_postgres():
        assert len(statements) == 1 and compiled_ran(statements), statements
