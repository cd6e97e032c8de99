"""Incremental sync against real servers (issue 16): a client pages `changes` through
two uvicorn processes on one PostgreSQL database while writers commit through both, and
ends with exactly the changes made: no gap, no duplicate, tombstones for deletions, and
only what the reader may see."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from crm_graphql.models.events import Event
from tests.conftest import IS_POSTGRES
from tests.factories import company_id
from tests.uvicorn_servers import Client, load_demo, server_env, serving

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="two server processes share PostgreSQL")

CHANGES = """query($after: String) {
  changes(after: $after, first: 7) {
    edges { node { id objectType objectId action } }
    pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE = """mutation($id: ID!, $c: String!) {
  companyUpdate(input: {id: $id, comments: $c}) { errors { code } }
}"""
CONTACT = """mutation($input: ContactCreateInput!) {
  contactCreate(input: $input) { contact { id } errors { code } }
}"""
DELETE = "mutation($id: ID!) { contactDelete(id: $id) { errors { code } } }"


class Reader:
    """A syncing client: keeps its cursor, reads page after page, alternating servers."""

    def __init__(self, clients: list[Client]) -> None:
        self.clients = clients
        self.after: str | None = None
        self.seen: list[dict[str, Any]] = []
        self.turn = 0

    async def read_page(self) -> bool:
        client = self.clients[self.turn % len(self.clients)]
        self.turn += 1
        body = await client.gql(CHANGES, {"after": self.after})
        assert "errors" not in body, body
        page = body["data"]["changes"]
        self.seen += [edge["node"] for edge in page["edges"]]
        self.after = page["pageInfo"]["endCursor"]
        return bool(page["edges"])

    async def drain(self) -> None:
        while await self.read_page():
            pass


async def _updates(client: Client, company: str, prefix: str, count: int) -> None:
    for n in range(count):
        body = await client.gql(UPDATE, {"id": company, "c": f"{prefix}{n}"})
        assert body["data"]["companyUpdate"]["errors"] == [], body


async def _contacts(client: Client, company: str, count: int) -> list[str]:
    made = []
    for n in range(count):
        body = await client.gql(
            CONTACT,
            {"input": {"companyId": company, "fullName": f"C {n}", "email": f"c{n}@example.com"}},
        )
        contact = body["data"]["contactCreate"]["contact"]["id"]
        made.append(contact)
        if n % 2 == 0:
            deleted = await client.gql(DELETE, {"id": contact})
            assert deleted["data"]["contactDelete"]["errors"] == []
    return made


async def test_paging_while_two_servers_commit_misses_nothing(tmp_path: Path) -> None:
    first_env = server_env(tmp_path / "a")
    second_env = server_env(tmp_path / "b")
    load_demo(first_env)
    a, b = await company_id("Customer #A"), await company_id("Customer #B")
    ours = await company_id("My company")
    with ExitStack() as stack:
        a_base, _ = stack.enter_context(serving(first_env))
        b_base, _ = stack.enter_context(serving(second_env))
        clients = [
            await Client(base).login(user)
            for base in (a_base, b_base)
            for user in ("user1", "manager1", "admin")
        ]
        user1_a, manager1_a, admin_a, user1_b, manager1_b, admin_b = clients
        readers = {
            "admin": Reader([admin_a, admin_b]),
            "user1": Reader([user1_b, user1_a]),
        }
        try:
            writers = asyncio.gather(
                _updates(user1_a, a, "a", 12),
                _updates(manager1_b, b, "b", 12),
                _updates(admin_b, ours, "ours", 8),
                _contacts(manager1_a, a, 8),
                _contacts(manager1_b, b, 6),
            )
            task = asyncio.ensure_future(writers)
            while not task.done():
                for reader in readers.values():
                    await reader.read_page()
                await asyncio.sleep(0.01)
            await task
            for reader in readers.values():
                await reader.drain()
        finally:
            for client in clients:
                await client.close()

    everything = await Event.all().order_by("id")
    admin_ids = [node["id"] for node in readers["admin"].seen]
    # The superadmin's feed: every event exactly once.
    assert len(admin_ids) == len(set(admin_ids))
    assert sorted(admin_ids, key=int) == [str(e.id) for e in everything]
    # Each company's comments in the order they were written.
    comments = [e.object_id for e in everything if e.object_type == "COMPANY"]
    assert comments.count(int(a)) == 12 and comments.count(int(ours)) == 8

    user1_ids = [node["id"] for node in readers["user1"].seen]
    assert len(user1_ids) == len(set(user1_ids))
    by_id = {str(e.id): e for e in everything}
    # Nothing of My company (no parent: only its manager and superadmins see it).
    assert all(
        by_id[i].object_id != int(ours) for i in user1_ids if by_id[i].object_type == "COMPANY"
    )
    # Every update of A and B and every tombstone reached user1.
    must = {
        str(e.id)
        for e in everything
        if (e.object_type == "COMPANY" and e.object_id in (int(a), int(b))) or e.action == "DELETE"
    }
    assert must <= set(user1_ids)
    tombstones = [n for n in readers["user1"].seen if n["action"] == "DELETE"]
    assert len(tombstones) == 4 + 3
