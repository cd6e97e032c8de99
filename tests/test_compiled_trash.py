"""The trash list on the compiled path (issue 15): the entries the viewer could delete
(`permissions/trash.visible_trash_q`, the resolver's rule), latest deletion first, with
the executor's keyset cursors, in one statement (two with totalCount), for the seven
viewers of the differential world; a refusal or a bad cursor is the executor's."""

from __future__ import annotations

import pytest

from crm_graphql.models.trash import TrashEntry
from tests.differential import VIEWERS, Differential, compiled_ran, counted

TRASH = """query T($types: [TrashObjectType!], $first: Int, $after: String) {
  trash(types: $types, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id type objectId label deletedAt deletedBy { username } } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_trash_is_one_statement_and_its_pages_follow_the_cursors(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    variables: dict[str, object] = {"first": 2}
    seen: list[str] = []
    for _ in range(20):
        body, statements = await counted(paths, TRASH, variables, world[viewer])
        if body.get("errors"):  # no CW, CM or LM: the executor refuses
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert not compiled_ran(statements)
            assert viewer in ("lead_seller", "user2", "invoice_reader")
            return
        assert "errors" not in body, body
        # the page and its totalCount, whatever the number of entries
        assert len(statements) == 2 and compiled_ran(statements), statements
        page = body["data"]["trash"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables = {**variables, "after": page["pageInfo"]["endCursor"]}
    assert len(seen) == len(set(seen)) == page["totalCount"]
    everything = await TrashEntry.all().count()
    if viewer == "admin":
        assert len(seen) == everything >= 10
    elif viewer in ("user1", "manager1"):
        assert 0 < len(seen) < everything


@pytest.mark.parametrize(
    "variables",
    [{"types": ["LEAD"]}, {"types": ["COMPANY", "CONTACT"]}, {"types": []}, {"after": "bogus"}],
)
async def test_kinds_and_bad_cursors(
    paths: Differential, world: dict[str, str], variables: dict[str, object]
) -> None:
    body, statements = await counted(paths, TRASH, variables, world["manager1"])
    if "after" in variables:
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert not compiled_ran(statements)
        return
    assert compiled_ran(statements) and "errors" not in body
    kinds = {e["node"]["type"] for e in body["data"]["trash"]["edges"]}
    assert kinds <= set(variables["types"])  # type: ignore[arg-type]
