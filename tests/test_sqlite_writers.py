"""SQLite, a second writer: cron's `crm-graphql mail send` runs while the server writes
(the CLI import beside the server is in tests/test_deadline.py). Both wait for each
other's write lock instead of failing with "database is locked"."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from crm_graphql.models.companies import Company
from crm_graphql.models.mail import OutgoingMail, OutgoingState
from tests.conftest import DATABASE_URL, IS_POSTGRES
from tests.factories import Api
from tests.leads_api import SEND, configure, prospect
from tests.mailservers import SmtpServer
from tests.uvicorn_servers import CLI, loadadmin_token, post, serving_at

MESSAGES = 12


@pytest.mark.skipif(IS_POSTGRES, reason="SQLite's single-writer lock")
async def test_cli_mail_send_while_the_server_writes(
    loadadmin: Api,
    demo: Api,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    # Given queued mail
    await configure(demo, smtp_server)
    lead = await prospect(demo)
    for n in range(MESSAGES):
        body = await demo.data(
            SEND,
            {"i": {"leadId": lead["id"], "subject": f"Offer {n}", "bodyHtml": "<p>x</p>"}},
            as_user="user1",
        )
        assert body["leadSendEmail"]["errors"] == []
    env = {**os.environ, "CRM_DATABASE_URL": DATABASE_URL, "CRM_DATA_DIR": str(tmp_path)}
    create = (
        "mutation New($name: String!) { companyCreate(input: {name: $name}) "
        "{ company { id } errors { code message } } }"
    )
    with serving_at(tmp_path) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            token = await loadadmin_token(http)
            # When cron's sender runs (twice at once) while clients write through the server
            senders = [
                await asyncio.create_subprocess_exec(
                    *CLI,
                    "mail",
                    "send",
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                for _ in range(2)
            ]
            outputs = asyncio.ensure_future(asyncio.gather(*(s.communicate() for s in senders)))
            created = 0
            while not outputs.done() or created < 5:
                body = await post(http, create, token, name=f"Beside mail {created}")
                assert "errors" not in body, body
                assert body["data"]["companyCreate"]["errors"] == [], body
                created += 1
            results = await outputs
    # Then both succeed: every message went once, every company was created
    for sender, (out, err) in zip(senders, results, strict=True):
        assert sender.returncode == 0, (out.decode(), err.decode())
        assert b"locked" not in err
    assert await smtp_server.wait_for(MESSAGES)
    assert len(smtp_server.received) == MESSAGES
    assert {m.state for m in await OutgoingMail.all()} == {OutgoingState.SENT}
    assert await Company.filter(name__startswith="Beside mail ").count() == created
