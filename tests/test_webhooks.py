"""Webhooks (issue 16): management over GraphQL (FM only, own webhooks only, secret once),
bad input and the SSRF guard, and delivery against a real HTTP receiver on loopback with
signatures checked by the `standardwebhooks` package (a third party's verifier)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from starlette.applications import Starlette

from crm_graphql.app import create_app
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.users import User
from crm_graphql.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from crm_graphql.services import webhook_delivery, webhook_transport
from crm_graphql.services.auth import Viewer
from crm_graphql.settings import Settings, settings
from tests.factories import Api, error_codes, make_token, make_user
from tests.webhook_receiver import receiving

CREATE = """mutation($input: WebhookCreateInput!) { webhookCreate(input: $input) {
  secret webhook { id url events description active disabledReason failureCount }
  errors { field code message } } }"""
UPDATE = """mutation($input: WebhookUpdateInput!) { webhookUpdate(input: $input) {
  webhook { id url events active disabledReason failureCount }
  errors { field code message } } }"""
LIST = """{ webhooks { id url events active disabledReason failureCount
  deliveries(first: 50) { totalCount edges { node { id eventId eventType status attempts
  responseCode durationMs error messageId } } } } }"""
PUBLIC_URL = "https://93.184.215.14/hooks/crm"


def private_settings(**changes: Any) -> Settings:
    """Tests deliver to a receiver on loopback, which the guard refuses by default."""
    return dataclasses.replace(
        settings,
        webhook_allow_private=True,
        webhook_retry_seconds=0.05,
        webhook_timeout_seconds=2.0,
        **changes,
    )


@pytest.fixture
async def private_api(app: Starlette) -> AsyncIterator[Api]:
    """An app instance with CRM_WEBHOOK_ALLOW_PRIVATE=1 on the same database."""
    config = private_settings()
    other = create_app(config)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(http)


async def fm_token(api: Api, username: str = "integrator") -> str:
    user = await make_user(username, bits=("FM",))
    return await make_token(user)


async def create(api: Api, token: str, **input: Any) -> dict[str, Any]:
    input.setdefault("events", ["company.created", "company.updated"])
    body = await api.data(CREATE, {"input": input}, token=token)
    return body["webhookCreate"]


# ---------------------------------------------------------------------------------------
# Management


async def test_an_fm_user_creates_a_webhook_and_sees_its_secret_once(api: Api) -> None:
    token = await fm_token(api)
    made = await create(api, token, url=PUBLIC_URL, description="ERP sync")
    assert made["errors"] == []
    assert made["secret"].startswith("whsec_")
    # The secret is 32 random bytes, base64: what the Standard Webhooks verifier takes.
    Verifier(made["secret"])
    assert made["webhook"]["events"] == ["company.created", "company.updated"]
    assert made["webhook"]["active"] is True
    listed = (await api.data(LIST, token=token))["webhooks"]
    assert [w["url"] for w in listed] == [PUBLIC_URL]
    assert "secret" not in str(listed)
    assert made["secret"] not in str(await api.gql(LIST, token=token))


async def test_webhooks_belong_to_their_owner(api: Api) -> None:
    alice = await fm_token(api, "alice")
    bob = await fm_token(api, "bob")
    made = await create(api, alice, url=PUBLIC_URL)
    assert (await api.data(LIST, token=bob))["webhooks"] == []
    changed = await api.data(
        UPDATE, {"input": {"id": made["webhook"]["id"], "url": PUBLIC_URL + "/x"}}, token=bob
    )
    assert changed["webhookUpdate"]["errors"][0]["code"] == "NOT_FOUND"
    deleted = await api.data(
        "mutation($id: ID!) { webhookDelete(id: $id) { deletedId errors { code } } }",
        {"id": made["webhook"]["id"]},
        token=bob,
    )
    assert deleted["webhookDelete"]["errors"][0]["code"] == "NOT_FOUND"
    assert await Webhook.filter(id=int(made["webhook"]["id"])).exists()
    mine = await api.data(
        "mutation($id: ID!) { webhookDelete(id: $id) { deletedId errors { code } } }",
        {"id": made["webhook"]["id"]},
        token=alice,
    )
    assert mine["webhookDelete"] == {"deletedId": made["webhook"]["id"], "errors": []}
    assert not await Webhook.exists()


async def test_webhooks_need_fm_and_a_full_token(api: Api) -> None:
    user = await make_user("plain", bits=("CR", "CW"))
    body = await api.gql(
        CREATE,
        {"input": {"url": PUBLIC_URL, "events": ["company.created"]}},
        token=await make_token(user),
    )
    assert error_codes(body) == ["FORBIDDEN"]
    fm = await make_user("former", bits=("FM",))
    narrow = await make_token(fm, scope=TokenScope.LEADS_CREATE)
    for query in (LIST, CREATE):
        body = await api.gql(
            query, {"input": {"url": PUBLIC_URL, "events": ["company.created"]}}, token=narrow
        )
        assert error_codes(body) == ["FORBIDDEN"], body
    assert not await Webhook.exists()


@pytest.mark.parametrize(
    ("input", "field", "code"),
    [
        ({"events": ["company.exploded"]}, "events", "INVALID"),
        ({"events": []}, "events", "REQUIRED"),
        ({"url": "ftp://93.184.215.14/x"}, "url", "INVALID"),
        ({"url": "file:///etc/passwd"}, "url", "INVALID"),
        ({"url": "not a url"}, "url", "INVALID"),
        ({"url": "https://user:pw@93.184.215.14/x"}, "url", "INVALID"),
        ({"url": "https://no-such-host.invalid/x"}, "url", "INVALID"),
        ({"description": "x" * 501}, "description", "TOO_LARGE"),
    ],
)
async def test_bad_input_is_a_payload_error_naming_the_field(
    api: Api, input: dict[str, Any], field: str, code: str
) -> None:
    token = await fm_token(api)
    made = await create(api, token, **{"url": PUBLIC_URL, **input})
    assert made["webhook"] is None and made["secret"] is None
    assert [(e["field"], e["code"]) for e in made["errors"]] == [(field, code)]
    assert not await Webhook.exists()


async def test_every_bad_field_is_reported_at_once(api: Api) -> None:
    token = await fm_token(api)
    made = await create(api, token, url="gopher://x", events=["nope"])
    assert sorted(e["field"] for e in made["errors"]) == ["events", "url"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
        "http://localhost:9/hook",
        # Other spellings of 127.0.0.1 that resolvers accept.
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://017700000001/hook",
        "http://[64:ff9b::7f00:1]/hook",
    ],
)
async def test_private_destinations_are_refused(api: Api, url: str) -> None:
    token = await fm_token(api)
    made = await create(api, token, url=url)
    assert [(e["field"], e["code"]) for e in made["errors"]] == [("url", "INVALID")], made
    assert "not allowed" in made["errors"][0]["message"]
    made = await create(api, token, url=PUBLIC_URL)
    changed = await api.data(
        UPDATE, {"input": {"id": made["webhook"]["id"], "url": url}}, token=token
    )
    assert changed["webhookUpdate"]["errors"][0]["field"] == "url"
    assert (await Webhook.get()).url == PUBLIC_URL


# ---------------------------------------------------------------------------------------
# Delivery, with the event log stood in for by a list (the access rule is tested with
# the real log in test_webhook_events.py).


@dataclasses.dataclass
class FakeEvent:
    id: int
    object_type: str
    object_id: int
    action: str
    changes: dict[str, Any]
    actor_id: int | None = None
    created_at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))


class FakeLog:
    def __init__(self) -> None:
        self.events: list[FakeEvent] = []
        self.hidden: set[int] = set()

    def add(self, object_type: str, object_id: int, action: str, **changes: Any) -> FakeEvent:
        event = FakeEvent(
            len(self.events) + 1,
            object_type,
            object_id,
            action,
            {k: list(v) for k, v in changes.items()},
        )
        self.events.append(event)
        return event

    async def after(
        self, viewer: Viewer, position: int | None, types: Sequence[str], limit: int
    ) -> list[FakeEvent]:
        return [
            e
            for e in self.events
            if e.id > (position or 0) and e.object_type in types and e.id not in self.hidden
        ][:limit]

    async def one(self, viewer: Viewer, event_id: int, object_type: str) -> FakeEvent | None:
        found = await self.after(viewer, event_id - 1, [object_type], 1)
        return found[0] if found and found[0].id == event_id else None


async def deliver(log: FakeLog, config: Settings, passes: int = 1) -> int:
    sent = 0
    for _ in range(passes):
        sent += await webhook_delivery.run_due(log, config)
    return sent


async def test_deliveries_are_signed_as_standard_webhooks_say(private_api: Api) -> None:
    token = await fm_token(private_api)
    log = FakeLog()
    with receiving() as receiver:
        made = await create(private_api, token, url=receiver.url)
        log.add("COMPANY", 7, "CREATE", name=[None, "Acme"])
        log.add("COMPANY", 7, "UPDATE", name=["Acme", "Acme Ltd"])
        log.add("CONTACT", 3, "CREATE", fullName=[None, "Ann"])  # not subscribed
        log.add("COMPANY", 7, "DELETE")  # not subscribed
        assert await deliver(log, private_settings()) == 2
        got = receiver.taken()
    verifier = Verifier(made["secret"])
    bodies = [verifier.verify(r.body, r.headers) for r in got]
    assert [b["type"] for b in bodies] == ["company.created", "company.updated"]
    assert bodies[1]["data"]["changes"] == {"name": ["Acme", "Acme Ltd"]}
    assert bodies[1]["data"]["objectId"] == "7" and bodies[1]["data"]["id"] == "2"
    assert got[0].headers["webhook-id"] == f"msg_{made['webhook']['id']}_1"
    # A forged body does not verify.
    with pytest.raises(Exception, match=r"(?i)signature"):
        verifier.verify(got[0].body.replace(b"Acme", b"Evil"), got[0].headers)
    deliveries = (await private_api.data(LIST, token=token))["webhooks"][0]["deliveries"]
    assert deliveries["totalCount"] == 2
    nodes = [e["node"] for e in deliveries["edges"]]
    assert [n["eventType"] for n in nodes] == ["company.updated", "company.created"]
    assert all(n["status"] == "SUCCEEDED" and n["responseCode"] == 200 for n in nodes)
    assert all(n["attempts"] == 1 and n["durationMs"] is not None for n in nodes)


async def test_receiver_down_then_up_gets_everything_in_order(private_api: Api) -> None:
    token = await fm_token(private_api)
    log = FakeLog()
    config = private_settings()
    with receiving() as receiver:
        port = receiver.port
        await create(private_api, token, url=receiver.url)
    # The receiver is gone: connections are refused, the head waits with backoff.
    for n in range(6):
        log.add("COMPANY", 1 + n % 2, "UPDATE", name=[str(n), str(n + 1)])
    assert await deliver(log, config, passes=3) == 0
    head = await WebhookDelivery.filter(status=DeliveryStatus.PENDING).order_by("id").first()
    assert head is not None and head.attempts >= 1 and head.next_attempt_at is not None
    assert head.error
    assert (await Webhook.get()).failure_count >= 1
    with receiving(port=port) as receiver:
        for _ in range(40):
            await deliver(log, config)
            if len(receiver.taken()) >= 6:
                break
            await asyncio.sleep(0.05)
        got = [r.json for r in receiver.taken()]
    assert [g["data"]["id"] for g in got] == ["1", "2", "3", "4", "5", "6"]
    webhook = await Webhook.get()
    assert webhook.failure_count == 0 and webhook.active


async def test_repeated_failures_disable_the_webhook_with_the_reason(private_api: Api) -> None:
    token = await fm_token(private_api)
    log = FakeLog()
    config = private_settings(webhook_max_failures=3)
    with receiving(status=500) as receiver:
        made = await create(private_api, token, url=receiver.url)
        log.add("COMPANY", 1, "CREATE", name=[None, "A"])
        for _ in range(20):
            await deliver(log, config)
            if not (await Webhook.get()).active:
                break
            await asyncio.sleep(0.05)
        listed = (await private_api.data(LIST, token=token))["webhooks"][0]
        assert listed["active"] is False
        assert "3 failed attempts in a row" in listed["disabledReason"]
        assert "HTTP 500" in listed["disabledReason"]
        node = listed["deliveries"]["edges"][0]["node"]
        assert node["status"] == "PENDING" and node["responseCode"] == 500
        # Disabled: nothing more is tried.
        await deliver(log, config)
        assert (await WebhookDelivery.get()).attempts == 3
        # Re-enabled once the receiver is fixed: the waiting delivery goes at once.
        receiver.status = 200
        again = await private_api.data(
            UPDATE, {"input": {"id": made["webhook"]["id"], "active": True}}, token=token
        )
        assert again["webhookUpdate"]["webhook"]["active"] is True
        assert again["webhookUpdate"]["webhook"]["disabledReason"] == ""
        await deliver(log, config)
        assert len(receiver.taken()) == 1
        # Redelivery of a finished delivery: a new one, the same webhook-id.
        delivery = await WebhookDelivery.get()
        redone = await private_api.data(
            "mutation($id: ID!) { webhookRedeliver(deliveryId: $id) { delivery { id status "
            "messageId } errors { field code } } }",
            {"id": str(delivery.id)},
            token=token,
        )
        assert redone["webhookRedeliver"]["errors"] == []
        assert redone["webhookRedeliver"]["delivery"]["status"] == "PENDING"
        await deliver(log, config)
        got = receiver.taken()
        assert len(got) == 2 and got[0].headers["webhook-id"] == got[1].headers["webhook-id"]


async def test_redeliver_of_someone_elses_delivery_is_not_found(private_api: Api) -> None:
    alice = await fm_token(private_api, "alice")
    bob = await fm_token(private_api, "bob")
    log = FakeLog()
    with receiving() as receiver:
        await create(private_api, alice, url=receiver.url)
        log.add("COMPANY", 1, "CREATE", name=[None, "A"])
        await deliver(log, private_settings())
    delivery = await WebhookDelivery.get()
    for value in (str(delivery.id), "nope"):
        body = await private_api.data(
            "mutation($id: ID!) { webhookRedeliver(deliveryId: $id) { errors { field code } } }",
            {"id": value},
            token=bob,
        )
        assert body["webhookRedeliver"]["errors"][0]["field"] == "deliveryId"


async def test_an_event_the_owner_can_no_longer_see_is_skipped(private_api: Api) -> None:
    token = await fm_token(private_api)
    log = FakeLog()
    config = private_settings()
    with receiving(status=503) as receiver:
        await create(private_api, token, url=receiver.url)
        log.add("COMPANY", 1, "CREATE", name=[None, "A"])
        log.add("COMPANY", 2, "CREATE", name=[None, "B"])
        await deliver(log, config)  # both taken into the outbox; the first fails
        log.hidden.add(1)  # the owner lost sight of company 1 meanwhile
        receiver.status = 200
        for _ in range(20):
            await deliver(log, config)
            if receiver.taken():
                break
            await asyncio.sleep(0.05)
        got = [r.json["data"]["objectId"] for r in receiver.taken()]
    assert got == ["2"]
    statuses = [d.status for d in await WebhookDelivery.all().order_by("id")]
    assert statuses == [DeliveryStatus.SKIPPED, DeliveryStatus.SUCCEEDED]


async def test_redirects_are_not_followed(private_api: Api) -> None:
    token = await fm_token(private_api)
    log = FakeLog()
    with receiving() as target, receiving(status=302, location="") as redirector:
        redirector.location = target.url
        await create(private_api, token, url=redirector.url)
        log.add("COMPANY", 1, "CREATE", name=[None, "A"])
        await deliver(log, private_settings())
        assert target.taken() == []
    delivery = await WebhookDelivery.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.response_code == 302 and "Redirects are not followed" in delivery.error


async def test_the_guard_runs_again_at_delivery(private_api: Api) -> None:
    """A URL accepted once (or changed in the database) is checked again at delivery."""
    token = await fm_token(private_api)
    log = FakeLog()
    with receiving() as receiver:
        await create(private_api, token, url=receiver.url)
        log.add("COMPANY", 1, "CREATE", name=[None, "A"])
        await deliver(log, dataclasses.replace(private_settings(), webhook_allow_private=False))
        assert receiver.taken() == []
    delivery = await WebhookDelivery.get()
    assert delivery.response_code is None and "not allowed" in delivery.error


async def test_the_connection_goes_to_the_checked_address_with_the_name_as_host() -> None:
    with receiving() as receiver:
        outcome = await webhook_transport.post(
            f"http://localhost:{receiver.port}/hook",
            b"{}",
            {"content-type": "application/json"},
            seconds=2,
            allow_private=True,
        )
        got = receiver.taken()
    assert outcome.ok, outcome
    assert got[0].headers["host"] == f"localhost:{receiver.port}"
    refused = await webhook_transport.post(
        f"http://localhost:{receiver.port}/hook", b"{}", {}, seconds=2, allow_private=False
    )
    assert refused.status is None and "not allowed" in refused.error


async def test_a_slow_receiver_times_out() -> None:
    with receiving(delay=3) as receiver:
        outcome = await webhook_transport.post(
            receiver.url, b"{}", {}, seconds=0.5, allow_private=True
        )
    assert outcome.status is None
    assert "Timed out" in outcome.error or "No answer" in outcome.error


async def test_two_senders_at_once_deliver_each_event_once(private_api: Api) -> None:
    """Claims: several processes (here two passes at once) never send the same webhook's
    deliveries in parallel, so with no crash nothing is sent twice and order holds."""
    token = await fm_token(private_api)
    log = FakeLog()
    config = private_settings()
    with receiving() as receiver:
        await create(private_api, token, url=receiver.url)
        for n in range(12):
            log.add("COMPANY", 1 + n % 3, "UPDATE", name=[str(n), str(n + 1)])
        for _ in range(5):
            await asyncio.gather(deliver(log, config), deliver(log, config))
            if len(receiver.taken()) >= 12:
                break
        ids = [int(r.json["data"]["id"]) for r in receiver.taken()]
    assert ids == list(range(1, 13))


async def test_a_disabled_owner_disables_the_webhook(private_api: Api) -> None:
    token = await fm_token(private_api)
    log = FakeLog()
    with receiving() as receiver:
        await create(private_api, token, url=receiver.url)
        await User.filter(username="integrator").update(enabled=False)
        log.add("COMPANY", 1, "CREATE", name=[None, "A"])
        await deliver(log, private_settings())
        assert receiver.taken() == []
    webhook = await Webhook.get()
    assert not webhook.active and "disabled" in webhook.disabled_reason
