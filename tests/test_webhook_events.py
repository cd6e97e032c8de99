"""Webhooks over the real event log (issue 16): a webhook delivers only what its owner
may see at delivery time, and a sender process killed mid-delivery (a real uvicorn,
SIGKILL) loses nothing once a process runs again. Signatures are checked with the
`standardwebhooks` package."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from starlette.applications import Starlette

from crm_graphql import webhookworkers
from crm_graphql.app import create_app
from crm_graphql.models.companies import Company
from crm_graphql.models.events import Event
from crm_graphql.models.users import User
from crm_graphql.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from crm_graphql.settings import Settings, settings
from tests.factories import Api, assign, make_profile, make_token
from tests.uvicorn_servers import Client, load_demo, server_env, serving
from tests.webhook_receiver import Receiver, receiving

CREATE = """mutation($input: WebhookCreateInput!) { webhookCreate(input: $input) {
  secret webhook { id } errors { field code message } } }"""
COMPANY_UPDATE = """mutation($input: CompanyUpdateInput!) { companyUpdate(input: $input) {
  company { id name } errors { field code message } } }"""
COMPANY_CREATE = """mutation($input: CompanyCreateInput!) { companyCreate(input: $input) {
  company { id } errors { field code message } } }"""


def private_settings() -> Settings:
    return dataclasses.replace(
        settings,
        webhook_allow_private=True,
        webhook_retry_seconds=0.05,
        webhook_timeout_seconds=2.0,
    )


@pytest.fixture
async def private_api(app: Starlette, demo: Api) -> AsyncIterator[Api]:
    """The demo world, through an app instance with CRM_WEBHOOK_ALLOW_PRIVATE=1."""
    other = create_app(private_settings())
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            api = Api(http)
            api.tokens = demo.tokens
            yield api


async def deliver_until(check: Any, seconds: float = 90) -> None:
    """Delivery passes until `check()` holds. On PostgreSQL an event is read once every
    older writing transaction of the server (any database of it) has ended: the log's
    horizon. A shared test server's other writers may hold it back for a while."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await webhookworkers.deliver_pass(private_settings())
        await asyncio.sleep(0.05)


async def give_fm(username: str) -> str:
    """`username` also holds FM; a FULL API token of theirs."""
    user = await User.get(username=username)
    await assign(user, await make_profile(f"{username} setup", ("FM",)))
    return await make_token(user)


async def rename(api: Api, name: str, new: str, as_user: str = "admin") -> None:
    company = await Company.get(name=name)
    body = await api.data(
        COMPANY_UPDATE, {"input": {"id": str(company.id), "name": new}}, as_user=as_user
    )
    assert body["companyUpdate"]["errors"] == [], body


async def test_a_webhook_delivers_only_what_its_owner_may_see(private_api: Api) -> None:
    api = private_api
    token = await give_fm("user1")
    with receiving() as receiver:
        made = (
            await api.data(
                CREATE,
                {"input": {"url": receiver.url, "events": ["company.created", "company.updated"]}},
                token=token,
            )
        )["webhookCreate"]
        assert made["errors"] == []
        await rename(api, "Customer #A", "Customer A2")
        # A root company of admin's: user1 cannot see it, nor its changes.
        created = await api.data(COMPANY_CREATE, {"input": {"name": "Secret Co"}}, as_user="admin")
        assert created["companyCreate"]["errors"] == []
        await rename(api, "Secret Co", "Secret Co 2")
        await rename(api, "Customer #B", "Customer B2")
        await deliver_until(lambda: len(receiver.taken()) >= 2)
        # Anything about Secret Co would come between or after them: one more pass.
        await webhookworkers.deliver_pass(private_settings())
        got = receiver.taken()
    verifier = Verifier(made["secret"])
    bodies = [verifier.verify(r.body, r.headers) for r in got]
    names = [b["data"]["changes"]["name"][1] for b in bodies]
    assert names == ["Customer A2", "Customer B2"]
    assert all(b["type"] == "company.updated" for b in bodies)
    assert "Secret" not in str([r.body for r in got])


async def test_visibility_is_decided_at_delivery_time(private_api: Api) -> None:
    api = private_api
    token = await give_fm("user1")
    with receiving(status=503) as receiver:
        await api.data(
            CREATE, {"input": {"url": receiver.url, "events": ["company.updated"]}}, token=token
        )
        await rename(api, "Customer #A", "Customer A2")
        await deliver_until(lambda: receiver.arrivals >= 1)  # taken, refused by the receiver
        assert await WebhookDelivery.filter(status=DeliveryStatus.PENDING).count() == 1
        # user1 loses the company before the retry: it is not sent.
        admin = await User.get(username="admin")
        await Company.filter(name="Customer A2").update(parent_id=None, manager_id=admin.id)
        receiver.status = 200
        for _ in range(10):
            await webhookworkers.deliver_pass(private_settings())
            await asyncio.sleep(0.05)
        assert receiver.taken() == []
    assert (await WebhookDelivery.get()).status == DeliveryStatus.SKIPPED


# ---------------------------------------------------------------------------------------
# A sender process killed mid-delivery


def _order_per_object(bodies: list[dict[str, Any]]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for body in bodies:
        data = body["data"]
        event = int(data["id"])
        ids = seen.setdefault(data["objectId"], [])
        if event not in ids:
            ids.append(event)
    return seen


async def _wait(receiver: Receiver, check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds * 10) + 1):
        if check() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def test_a_sender_killed_mid_delivery_loses_nothing(app: Starlette, tmp_path: Path) -> None:
    env = server_env(
        tmp_path,
        CRM_WEBHOOK_WORKERS="1",
        CRM_WEBHOOK_ALLOW_PRIVATE="1",
        CRM_WEBHOOK_TIMEOUT_SECONDS="1",
        CRM_WEBHOOK_RETRY_SECONDS="0.2",
        CRM_WEBHOOK_POLL_SECONDS="0.5",
    )
    load_demo(env)
    token = await give_fm("manager1")
    with receiving() as receiver:
        receiver.hold.set()  # the first delivery hangs: the sender is mid-request
        with serving(env) as (base, process):
            client = await Client(base).login("manager1")
            client.token = token
            made = await client.gql(
                CREATE,
                {"input": {"url": receiver.url, "events": ["company.updated"]}},
            )
            assert made["data"]["webhookCreate"]["errors"] == [], made
            secret = made["data"]["webhookCreate"]["secret"]
            ids = {
                name: (await Company.get(name=name)).id for name in ("Customer #A", "Customer #B")
            }
            renames = []
            for n in range(4):
                for name, company_id in ids.items():
                    new = f"{name} v{n}"
                    body = await client.gql(
                        COMPANY_UPDATE, {"input": {"id": str(company_id), "name": new}}
                    )
                    assert body["data"]["companyUpdate"]["errors"] == [], body
                    renames.append(new)
            await _wait(receiver, lambda: receiver.arrivals >= 1, 20)
            assert receiver.arrivals >= 1
            await client.close()
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        receiver.hold.clear()
        with serving(env):
            await _wait(receiver, lambda: len(receiver.taken()) >= len(renames), 90)
        got = receiver.taken()
    verifier = Verifier(secret)
    bodies = [verifier.verify(r.body, r.headers) for r in got]
    assert {b["data"]["changes"]["name"][1] for b in bodies} == set(renames)
    for events in _order_per_object(bodies).values():
        assert events == sorted(events)
    assert len(_order_per_object(bodies)) == 2


async def test_a_cursor_the_log_no_longer_holds_disables_the_webhook(private_api: Api) -> None:
    token = await give_fm("user1")
    with receiving() as receiver:
        await private_api.data(
            CREATE, {"input": {"url": receiver.url, "events": ["company.updated"]}}, token=token
        )
        await rename(private_api, "Customer #A", "Customer A2")
        await deliver_until(lambda: len(receiver.taken()) >= 1)
        assert len(receiver.taken()) == 1
        # The log is pruned past the webhook's position.
        await Event.all().delete()
        await webhookworkers.deliver_pass(private_settings())
    webhook = await Webhook.get()
    assert not webhook.active and "position" in webhook.disabled_reason


async def test_bad_ids_are_payload_errors(private_api: Api) -> None:
    token = await give_fm("user1")
    body = await private_api.data(
        """mutation { webhookUpdate(input: {id: "x", url: "http://127.0.0.1/"}) {
        errors { field code } } }""",
        token=token,
    )
    assert body["webhookUpdate"]["errors"] == [{"field": "id", "code": "INVALID"}]
