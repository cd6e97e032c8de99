"""The trash over HTTP (issue 18): a deleted company, contact, contract or lead is gone
from every root field (walked by introspection, so a new list cannot be forgotten), every
CSV export and the file downloads; `restore` brings it back identical (a full read of the
record and its relations, before and after, as JSON); `purge` forgets it; a user who
could not delete it can neither see, restore nor purge it; bad input is refused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import Event
from crm_graphql.models.trash import TrashEntry
from crm_graphql.services.files import path_of
from crm_graphql.settings import settings
from tests.factories import (
    Api,
    company_id,
    make_contract_type,
    make_custom_field,
    make_lead_tag,
    make_lead_type,
    make_user,
)
from tests.files_api import download, uploaded
from tests.uvicorn_servers import run

MARK = "Zqtrash"
TYPES = """
query Types { __schema { queryType { name } types { name kind
  fields { name args { name defaultValue type { kind name ofType { kind name ofType {
    kind name ofType { kind name } } } } }
    type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
"""
# Root fields that show deletions by design, or need an argument the walk cannot make up.
NOT_WALKED = {
    "auditLog": "records every deletion (with the deleted values)",
    "changes": "the change feed: the creation's event keeps its values",
    "trash": "lists the deleted records",
    "user": "needs an id",
    "company": "needs an id (read directly below)",
    "contact": "needs an id (read directly below)",
    "contract": "needs an id (read directly below)",
    "lead": "needs an id (read directly below)",
    "duplicates": "needs an id (a deleted record's is NOT_FOUND, as for `company`)",
    "invoice": "needs an id",
    "file": "needs an id (downloads are checked below)",
    "contractTemplate": "needs an id",
    "leadMailTemplates": "needs a lead id",
    "customFields": "field definitions, not records (needs an entity)",
}
CALENDAR_ARGS = '(from: "2020-01-01", to: "2020-12-31")'
# Root fields with required arguments: walked once per argument list.
ARGS = {
    "calendarEvents": [CALENDAR_ARGS],
    "duplicateCandidates": ["(type: COMPANY)", "(type: CONTACT)", "(type: LEAD)"],
}
EXPORTS = ("companies", "contacts", "contracts", "leads", "invoices")


def _named(ref: dict[str, Any]) -> dict[str, Any]:
    while ref.get("ofType") and ref["kind"] in ("NON_NULL", "LIST"):
        ref = ref["ofType"]
    return ref


class Walk:
    """Selections built from the schema: every field without required arguments, down
    to `depth` object levels."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.types = {t["name"]: t for t in schema["types"]}
        self.query = self.types[schema["queryType"]["name"]]

    @staticmethod
    def required(field: dict[str, Any]) -> bool:
        return any(
            a["type"]["kind"] == "NON_NULL" and a["defaultValue"] is None for a in field["args"]
        )

    def selection(self, type_name: str, depth: int) -> str:
        parts = []
        for field in self.types[type_name]["fields"] or []:
            if self.required(field) or field["name"].startswith("__"):
                continue
            named = _named(field["type"])
            kind = self.types[named["name"]]["kind"]
            if kind in ("SCALAR", "ENUM"):
                parts.append(field["name"])
            elif kind == "OBJECT" and depth > 0:
                inner = self.selection(named["name"], depth - 1)
                if inner:
                    parts.append(f"{field['name']} {{ {inner} }}")
        return " ".join(parts)

    def root_documents(self) -> dict[str, str]:
        documents = {}
        for field in self.query["fields"]:
            name = field["name"]
            if name in NOT_WALKED:
                continue
            assert name in ARGS or not self.required(field), f"{name} needs arguments: add it"
            named = _named(field["type"])
            kind = self.types[named["name"]]["kind"]
            inner = (
                "" if kind in ("SCALAR", "ENUM") else f"{{ {self.selection(named['name'], 2)} }}"
            )
            for args in ARGS.get(name, [""]):
                documents[f"{name}{args}"] = f"query Walk {{ walked: {name}{args} {inner} }}"
        return documents


async def _every_view(api: Api, walk: Walk) -> dict[str, Any]:
    """What the superadmin reads from every root field and every CSV export."""
    seen: dict[str, Any] = {}
    for name, document in walk.root_documents().items():
        body = await api.gql(document, as_user="admin")
        assert "errors" not in body, (name, body)
        seen[name] = body["data"]["walked"]
    for what in EXPORTS:
        response = await api.client.get(
            f"/export/{what}.csv", headers={"Authorization": f"Bearer {api.tokens['admin']}"}
        )
        assert response.status_code == 200, (what, response.text)
        seen[f"/export/{what}.csv"] = response.text
    return seen


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two responses differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in a.keys() | b.keys() for d in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _totals(value: Any, path: str = "") -> dict[str, int]:
    """Every totalCount in a response, by path."""
    found: dict[str, int] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "totalCount":
                found[path] = inner
            else:
                found.update(_totals(inner, f"{path}.{key}"))
    return found


async def _full_read(api: Api, walk: Walk, root: str, object_id: str) -> Any:
    named = _named(next(f for f in walk.query["fields"] if f["name"] == root)["type"])
    document = (
        f"query Read($id: ID!) {{ {root}(id: $id) {{ {walk.selection(named['name'], 3)} }} }}"
    )
    return (await api.data(document, {"id": object_id}, as_user="admin"))[root]


async def _ok(api: Api, query: str, variables: dict[str, Any], user: str = "manager1") -> Any:
    data = await api.data(query, variables, as_user=user)
    result = next(iter(data.values()))
    assert result.get("errors", []) == [], result
    return result


async def _record(api: Api, object_type: str) -> tuple[str, str, list[str]]:
    """A record of `object_type` with what can hang on it: custom values, a file, an
    activity or a tag. Returns its root field, its id and its files' download URLs."""
    b = await company_id("Customer #B")
    kind = await make_contract_type("Trash type")
    lead_type = await make_lead_type("Trash leads")
    owner_id = {"CONTRACT": kind.id, "LEAD": lead_type.id}.get(object_type)
    field = await make_custom_field(CustomFieldEntity(object_type), "Trashed", owner_id=owner_id)
    values = [{"fieldId": str(field.id), "value": f"{MARK} value"}]
    variables: dict[str, Any] = {"c": b, "v": values}
    if object_type == "COMPANY":
        mutation = (
            'companyCreate(input: {name: "' + MARK + ' Ltd", parentId: $c, '
            "customFields: $v}) { company { id } errors { code } }"
        )
    elif object_type == "CONTACT":
        mutation = (
            'contactCreate(input: {companyId: $c, fullName: "' + MARK + ' Ann", '
            'email: "ann@zq.test", customFields: $v}) { contact { id } errors { code } }'
        )
    elif object_type == "CONTRACT":
        variables["t"] = str(kind.id)
        mutation = (
            'contractCreate(input: {companyId: $c, reference: "REF-T", number: "'
            + MARK
            + '-1", description: "'
            + MARK
            + '", dateBegin: "2026-01-01", contractTypeId: $t, customFields: $v}) '
            "{ contract { id } errors { code } }"
        )
    else:
        tag = await make_lead_tag("Trash tag")
        variables = {"c": b, "v": values, "t": [str(tag.id)]}
        mutation = (
            'leadCreate(input: {fullName: "' + MARK + ' Lead", email: "lead@zq.test", '
            f"leadTypeId: {lead_type.id}, "
            "companyId: $c, tagIds: $t, customFields: $v}) { lead { id } errors { code } }"
        )
    declared = "$c: ID!, $v: [CustomFieldValueInput!]" + (
        ", $t: ID!" if object_type == "CONTRACT" else ", $t: [ID!]" if "t" in variables else ""
    )
    created = await _ok(api, f"mutation Make({declared}) {{ {mutation} }}", variables, "admin")
    root = object_type.lower()
    object_id = created[root]["id"]
    if object_type in ("COMPANY", "CONTACT"):
        key = "companyId" if object_type == "COMPANY" else "contactId"
        await _ok(
            api,
            "mutation Note($o: ID!) { activityCreate(input: {"
            + key
            + ': $o, text: "'
            + MARK
            + ' note"}) { errors { code } } }',
            {"o": object_id},
            "admin",
        )
    if object_type == "LEAD":
        await _ok(
            api,
            'mutation Note($l: ID!) { leadActivityCreate(input: {leadId: $l, text: "'
            + MARK
            + ' call"}) { errors { code } } }',
            {"l": object_id},
            "admin",
        )
    stored = await uploaded(api, "admin", object_id, kind=object_type)
    return root, object_id, [stored["downloadUrl"]]


async def _delete(api: Api, root: str, object_id: str) -> None:
    name = f"{root}Delete"
    data = await api.data(
        f"mutation($id: ID!) {{ {name}(id: $id) {{ deletedId errors {{ code message }} }} }}",
        {"id": object_id},
        as_user="admin",
    )
    assert data[name] == {"deletedId": object_id, "errors": []}, data


TRASH = """query Trash($types: [TrashObjectType!]) { trash(types: $types) { totalCount
  edges { node { id type objectId label deletedAt deletedBy { username } } } } }"""
RESTORE = """mutation Restore($ids: [ID!]!) { restore(ids: $ids) {
  restored { type objectId } errors { field code message } } }"""
PURGE = """mutation Purge($ids: [ID!]!) { purge(ids: $ids) {
  purgedIds errors { field code message } } }"""


async def _trash(api: Api, user: str = "admin", types: list[str] | None = None) -> Any:
    return (await api.data(TRASH, {"types": types}, as_user=user))["trash"]


@pytest.mark.parametrize("object_type", ["COMPANY", "CONTACT", "CONTRACT", "LEAD"])
async def test_deleted_is_gone_everywhere_and_restored_identical(
    demo: Api, object_type: str
) -> None:
    walk = Walk((await demo.data(TYPES, as_user="admin"))["__schema"])
    baseline = await _every_view(demo, walk)
    root, object_id, files = await _record(demo, object_type)
    before = await _full_read(demo, walk, root, object_id)
    with_it = await _every_view(demo, walk)
    assert MARK in json.dumps(with_it)  # the walk does reach it
    assert (await download(demo, "admin", files[0])).status_code == 200

    await _delete(demo, root, object_id)
    without = await _every_view(demo, walk)
    leaks = [name for name, value in without.items() if MARK in json.dumps(value)]
    assert leaks == [], {
        n: json.dumps(without[n])[json.dumps(without[n]).find(MARK) - 300 :][:400] for n in leaks
    }
    assert _totals(without) == _totals(baseline)
    assert (await download(demo, "admin", files[0])).status_code == 404
    gone = await demo.gql(
        f"query Read($id: ID!) {{ {root}(id: $id) {{ id }} }}", {"id": object_id}, as_user="admin"
    )
    assert gone["data"] is None or gone["data"][root] is None

    listed = await _trash(demo, types=[object_type])
    assert listed["totalCount"] == 1
    entry = listed["edges"][0]["node"]
    assert (entry["type"], entry["objectId"], entry["deletedBy"]) == (
        object_type,
        object_id,
        {"username": "admin"},
    )
    assert MARK in entry["label"] or object_type == "CONTRACT"
    result = await _ok(demo, RESTORE, {"ids": [entry["id"]]}, user="admin")
    assert result["restored"] == [{"type": object_type, "objectId": object_id}]
    after = await _full_read(demo, walk, root, object_id)
    # The record's change history tells the deletion and the restore (issue 16).
    history = "changeHistory" if object_type == "LEAD" else "history"
    assert after[history]["totalCount"] == before[history]["totalCount"] + 2
    before.pop(history), after.pop(history)
    differences = _differences(before, after)
    if object_type == "CONTRACT":
        # Its company's activity log tells the deletion and the restore (SPEC §3).
        company_log = (".company.activities", ".company.lastUpdate", ".company.lastActivity")
        differences = [d for d in differences if not d.startswith(company_log)]
    assert differences == [], "\n".join(differences)
    assert (await download(demo, "admin", files[0])).status_code == 200
    assert (await _trash(demo))["totalCount"] == 0
    assert await AuditEntry.filter(action="RESTORE", object_id=object_id).exists()
    # The change feed: created, deleted (a tombstone), created again by the restore.
    actions = (
        await Event.filter(object_type=object_type, object_id=int(object_id))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["CREATE", "DELETE", "CREATE"]


async def test_purge_forgets_the_entry_and_the_files_bytes(demo: Api) -> None:
    root, object_id, files = await _record(demo, "CONTACT")
    await _delete(demo, root, object_id)
    entry = (await _trash(demo))["edges"][0]["node"]
    kept = await TrashEntry.get(id=int(entry["id"]))
    assert len(kept.stored_names) == 1
    assert path_of(kept.stored_names[0], settings).exists()  # kept until the purge
    assert (await _ok(demo, PURGE, {"ids": [entry["id"]]}, user="admin"))["purgedIds"] == [
        entry["id"]
    ]
    assert (await _trash(demo))["totalCount"] == 0
    assert not path_of(kept.stored_names[0], settings).exists()
    assert (await download(demo, "admin", files[0])).status_code == 404
    again = await demo.data(RESTORE, {"ids": [entry["id"]]}, as_user="admin")
    assert [(e["field"], e["code"]) for e in again["restore"]["errors"]] == [("ids.0", "NOT_FOUND")]


async def test_only_who_could_delete_it_sees_restores_or_purges_it(demo: Api) -> None:
    # Customer #B is managed by manager1: user1 (no CM, not its manager) cannot edit it.
    root, object_id, _ = await _record(demo, "CONTACT")
    await _delete(demo, root, object_id)
    entry = (await _trash(demo, "manager1"))["edges"][0]["node"]
    await make_user("outsider", bits=("CR", "CW", "CM", "LM"))
    demo.tokens["outsider"] = await demo.login("outsider", "outsider-pass")
    for user in ("user1", "outsider"):
        assert (await _trash(demo, user))["totalCount"] == 0, user
        for mutation, name in ((RESTORE, "restore"), (PURGE, "purge")):
            data = await demo.data(mutation, {"ids": [entry["id"]]}, as_user=user)
            assert [(e["field"], e["code"]) for e in data[name]["errors"]] == [
                ("ids.0", "NOT_FOUND")
            ], (user, name)
    # user2 has no CRM bits at all: the root fields are refused.
    body = await demo.gql(TRASH, {"types": None}, as_user="user2")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await TrashEntry.filter(id=int(entry["id"])).exists()
    # A deleted company is listed to whoever could delete it (CM and edit access over
    # the company as it was), not only to who deleted it: manager1 could delete a
    # company under its own; a CM user of no company, or user1 (no CM), could not.
    parent = await Company.get(name="My company")
    c = await Company.create(name="Mine Ltd", parent=parent)
    await Company.filter(id=c.id).update(path=f"{parent.path}{c.id}/")
    can = await demo.data(
        "query($id: ID!) { company(id: $id) { viewerCan { delete } } }",
        {"id": str(c.id)},
        as_user="manager1",
    )
    assert can["company"]["viewerCan"]["delete"] is True
    await _delete(demo, "company", str(c.id))
    assert (await _trash(demo, "manager1", ["COMPANY"]))["totalCount"] == 1
    for user in ("outsider", "user1"):
        assert (await _trash(demo, user, ["COMPANY"]))["totalCount"] == 0, user
    assert (await _trash(demo, "admin", ["COMPANY"]))["totalCount"] == 1
    company_entry = (await _trash(demo, "manager1", ["COMPANY"]))["edges"][0]["node"]
    assert (await _ok(demo, RESTORE, {"ids": [company_entry["id"]]}))["restored"] == [
        {"type": "COMPANY", "objectId": str(c.id)}
    ]


async def test_bad_input_is_refused_and_nothing_moves(demo: Api) -> None:
    root, object_id, _ = await _record(demo, "LEAD")
    await _delete(demo, root, object_id)
    entry = (await _trash(demo))["edges"][0]["node"]
    data = await demo.data(RESTORE, {"ids": [entry["id"], "999999", "x", "-3"]}, as_user="admin")
    assert data["restore"]["restored"] == []
    assert [(e["field"], e["code"]) for e in data["restore"]["errors"]] == [
        ("ids.1", "NOT_FOUND"),
        ("ids.2", "INVALID"),
        ("ids.3", "INVALID"),
    ]
    # The valid one was not restored either: one transaction, all or nothing.
    assert (await _trash(demo))["totalCount"] == 1
    body = await demo.gql(RESTORE, {"ids": [entry["id"]] * 101}, as_user="admin")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # A record id is not an entry id; an entry restored twice is NOT_FOUND the second time.
    assert (await _ok(demo, RESTORE, {"ids": [entry["id"]]}, user="admin"))["restored"]
    data = await demo.data(RESTORE, {"ids": [entry["id"]]}, as_user="admin")
    assert data["restore"]["errors"][0]["code"] == "NOT_FOUND"


async def test_restore_refuses_a_unique_value_taken_meanwhile(demo: Api) -> None:
    root, object_id, _ = await _record(demo, "CONTACT")
    await _delete(demo, root, object_id)
    entry = (await _trash(demo))["edges"][0]["node"]
    await _ok(
        demo,
        'mutation($c: ID!) { contactCreate(input: {companyId: $c, fullName: "Other", '
        'email: "ANN@zq.test"}) { contact { id } errors { code } } }',
        {"c": await company_id("Customer #B")},
    )
    data = await demo.data(RESTORE, {"ids": [entry["id"]]}, as_user="admin")
    assert [(e["field"], e["code"]) for e in data["restore"]["errors"]] == [("ids.0", "UNIQUE")]
    assert "email" in data["restore"]["errors"][0]["message"]


async def test_mass_lead_deletion_goes_to_the_trash(demo: Api) -> None:
    ids = []
    for n in range(3):
        created = await _ok(
            demo,
            "mutation($n: String!) { leadCreate(input: {fullName: $n}) { lead { id } "
            "errors { code } } }",
            {"n": f"Mass {n}"},
            user="admin",
        )
        ids.append(created["lead"]["id"])
    data = await demo.data(
        "mutation($ids: [ID!]!) { leadsDelete(ids: $ids) { succeeded failed } }",
        {"ids": ids},
        as_user="admin",
    )
    assert data["leadsDelete"] == {"succeeded": 3, "failed": 0}
    listed = await _trash(demo, types=["LEAD"])
    assert sorted(e["node"]["objectId"] for e in listed["edges"]) == sorted(ids)


async def test_the_background_purge_removes_old_entries(demo: Api) -> None:
    from crm_graphql.services import trash

    root, object_id, _ = await _record(demo, "CONTACT")
    await _delete(demo, root, object_id)
    await TrashEntry.all().update(deleted_at=datetime.now(UTC) - timedelta(days=29))
    assert await trash.purge_older_than(30) == 0
    await TrashEntry.all().update(deleted_at=datetime.now(UTC) - timedelta(days=31))
    assert await trash.purge_older_than(30) == 1
    assert (await _trash(demo))["totalCount"] == 0


async def test_the_purge_command_removes_entries_older_than_the_days(
    demo: Api, tmp_path: Path
) -> None:
    root, object_id, _ = await _record(demo, "CONTACT")
    await _delete(demo, root, object_id)
    await TrashEntry.all().update(deleted_at=datetime.now(UTC) - timedelta(days=8))
    kept = await asyncio.to_thread(run, "trash", "purge", "--days", "9", tmp_path=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "Purged 0 trash entries" in kept.stdout
    assert await TrashEntry.exists()
    done = await asyncio.to_thread(run, "trash", "purge", "--days", "7", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Purged 1 trash entries" in done.stdout
    assert not await TrashEntry.exists()
