"""The outbox's claims: each carries its own token and a result is recorded only under
it; claims and leases use the database's clock; the pool size is a setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise

from crm_graphql.models.mail import OutgoingMail, OutgoingState
from crm_graphql.services import inbox, outbox
from crm_graphql.services.database import database_now
from crm_graphql.services.setup import get_setup
from crm_graphql.settings import tortoise_config
from tests.conftest import IS_POSTGRES
from tests.factories import Api
from tests.leads_api import SEND, configure, prospect
from tests.mailservers import SmtpServer


async def _queue_one(demo: Api, smtp_server: SmtpServer) -> OutgoingMail:
    await configure(demo, smtp_server)
    lead = await prospect(demo)
    body = await demo.data(
        SEND,
        {"i": {"leadId": lead["id"], "subject": "Offer", "bodyHtml": "<p>x</p>"}},
        as_user="user1",
    )
    assert body["leadSendEmail"]["errors"] == []
    return await OutgoingMail.get()


async def test_a_claim_taken_over_mid_delivery_is_not_recorded_by_its_old_owner(
    demo: Api, smtp_server: SmtpServer
) -> None:
    mail = await _queue_one(demo, smtp_server)
    setup = await get_setup()
    # Sender A claims the message; its SMTP exchange is slow and the claim runs out...
    first = await outbox._claim(mail.id)
    assert first is not None
    await OutgoingMail.filter(id=mail.id).update(
        claimed_until=await database_now() - timedelta(seconds=1)
    )
    # ...so sender B claims it before A has recorded anything.
    second = await outbox._claim(mail.id)
    assert second is not None and second != first
    assert await outbox._claim(mail.id) is None  # B's claim is live
    # A's delivery completes: the SMTP server has it, but the row is B's to record.
    late = outbox.SendReport()
    await outbox._attempt(await OutgoingMail.get(id=mail.id), setup, late, first)
    assert late.sent == 0
    row = await OutgoingMail.get(id=mail.id)
    assert (row.state, row.attempts, row.claimed_by) == (OutgoingState.QUEUED, 0, second)
    # B records its own delivery.
    report = outbox.SendReport()
    await outbox._attempt(row, setup, report, second)
    assert report.sent == 1
    row = await OutgoingMail.get(id=mail.id)
    assert (row.state, row.attempts) == (OutgoingState.SENT, 1)
    assert len(await smtp_server.wait_for(2)) == 2  # at least once: A's copy went too


async def test_claims_use_the_database_clock(
    demo: Api, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail = await _queue_one(demo, smtp_server)
    connection = Tortoise.get_connection("default")
    if IS_POSTGRES:
        rows = await connection.execute_query_dict("SELECT clock_timestamp() AS now")
        assert abs(rows[0]["now"] - await database_now()) < timedelta(seconds=2)

    class SkewedClock(datetime):
        """A machine whose clock is an hour ahead."""

        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + timedelta(hours=1)

    taken = await outbox._claim(mail.id)
    assert taken is not None
    row = await OutgoingMail.get(id=mail.id)
    left = row.claimed_until - await database_now()
    assert (
        timedelta(seconds=outbox.CLAIM_SECONDS - 5)
        < left
        <= timedelta(seconds=outbox.CLAIM_SECONDS)
    )
    if IS_POSTGRES:
        # A sender on the skewed machine does not take the live claim: claims compare
        # the database's clock, not the machine's.
        monkeypatch.setattr(outbox, "datetime", SkewedClock, raising=False)
        monkeypatch.setattr(inbox, "datetime", SkewedClock)
        assert await outbox._claim(mail.id) is None
        assert await inbox.take_lease("one")
        assert not await inbox.take_lease("two")


def test_the_pool_size_is_a_setting() -> None:
    config = tortoise_config("postgres://u@db:5432/crm", pool_size=12)
    credentials = config["connections"]["default"]["credentials"]
    assert (credentials["minsize"], credentials["maxsize"]) == (1, 12)
    default = tortoise_config("postgres://u@db:5432/crm")
    assert "maxsize" not in default["connections"]["default"]["credentials"]


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's connection pool")
async def test_the_running_pool_has_the_configured_size() -> None:
    from crm_graphql.services.postgres_engine import CrmAsyncpgClient
    from tests.conftest import DATABASE_URL

    credentials = tortoise_config(DATABASE_URL, pool_size=3)["connections"]["default"]
    client = CrmAsyncpgClient(connection_name="pool-test", **credentials["credentials"])
    try:
        await client.create_connection(with_db=True)
        assert client._pool.get_max_size() == 3
        # The compiled reads' pool (docs/deployment.md): half as many, rounded up,
        # opened at the first read, closed with the client.
        assert client._reads is None
        assert (await client.read_rows("SELECT 1 AS one", []))[0]["one"] == 1
        reads = client._reads
        assert reads is not None and reads.get_max_size() == 2
    finally:
        await client.close()
    assert client._reads is None and reads.is_closing()
