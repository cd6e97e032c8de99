"""Idempotency-Key on POST /graphql: a retry of a mutation whose answer was lost gets the
original answer and does the work once; the key is per user, bound to its request,
refused while its first request still runs, and expires."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crm_graphql.models.idempotency import IdempotencyKey
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.users import User
from tests.factories import Api, company_id
from tests.invoices_api import CREATE, seed_input, set_numbering


async def _post(
    api: Api, user: str, key: str | None, variables: dict[str, Any], query: str = CREATE
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tokens[user]}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


async def test_a_retry_gets_the_original_invoice_and_bill_id(demo: Api) -> None:
    await set_numbering("21/[1001]")
    payload = {"input": seed_input(await company_id("Customer #B"))}
    first = await _post(demo, "manager1", "key-1", payload)
    assert first.status_code == 200
    created = first.json()["data"]["invoiceCreate"]
    assert created["errors"] == []
    # The client "lost" that answer and retries the same request with the same key.
    retry = await _post(demo, "manager1", "key-1", payload)
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await Invoice.all().count() == 1
    invoice = await Invoice.get()
    assert (str(invoice.id), invoice.bill_id) == (created["invoice"]["id"], "21/1001")
    # Without a key (or with a new one) the same request does create another invoice.
    again = (await _post(demo, "manager1", "key-2", payload)).json()
    assert again["data"]["invoiceCreate"]["invoice"]["billId"] == "21/1002"


async def test_the_same_key_with_another_request_is_refused(demo: Api) -> None:
    company = await company_id("Customer #B")
    await _post(demo, "manager1", "key-1", {"input": seed_input(company)})
    other = await _post(
        demo, "manager1", "key-1", {"input": seed_input(company, reference="other")}
    )
    assert other.status_code == 422
    assert _code(other) == "IDEMPOTENCY_KEY_REUSED"
    assert await Invoice.all().count() == 1
    # JSON key order is not a different request.
    reordered = await demo.client.post(
        "/graphql",
        content=b'{"variables": '
        + _json({"input": seed_input(company)})
        + b', "query": '
        + _json(CREATE)
        + b"}",
        headers={
            "Authorization": f"Bearer {demo.tokens['manager1']}",
            "Idempotency-Key": "key-1",
            "Content-Type": "application/json",
        },
    )
    assert reordered.headers.get("idempotent-replayed") == "true"


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


async def test_keys_are_per_user(demo: Api) -> None:
    company = await company_id("Customer #B")
    payload = {"input": seed_input(company)}
    mine = (await _post(demo, "manager1", "shared", payload)).json()
    theirs = (await _post(demo, "admin", "shared", payload)).json()
    assert (
        mine["data"]["invoiceCreate"]["invoice"]["id"]
        != (theirs["data"]["invoiceCreate"]["invoice"]["id"])
    )
    assert await Invoice.all().count() == 2


async def test_a_key_whose_request_still_runs_is_a_conflict(demo: Api) -> None:
    company = await company_id("Customer #B")
    payload = {"input": seed_input(company)}
    first = await _post(demo, "manager1", "busy", payload)
    row = await IdempotencyKey.get(key="busy")
    # As if the first request were still running: its key is PENDING with a live lease.
    await IdempotencyKey.filter(id=row.id).update(
        done=False, lease_until=datetime.now(UTC) + timedelta(minutes=1)
    )
    running = await _post(demo, "manager1", "busy", payload)
    assert running.status_code == 409
    assert _code(running) == "IDEMPOTENCY_KEY_IN_USE"
    assert running.headers["retry-after"] == "1"
    # A PENDING key whose lease ran out belongs to a request that died before its commit
    # (DONE commits with the writes): the retry runs it.
    await Invoice.all().delete()
    await IdempotencyKey.filter(id=row.id).update(lease_until=datetime.now(UTC))
    rerun = await _post(demo, "manager1", "busy", payload)
    assert rerun.status_code == 200
    assert "idempotent-replayed" not in rerun.headers
    assert rerun.json()["data"]["invoiceCreate"]["errors"] == []
    assert await Invoice.all().count() == 1
    assert first.status_code == 200


async def test_keys_expire(demo: Api) -> None:
    company = await company_id("Customer #B")
    await _post(demo, "manager1", "old", {"input": seed_input(company)})
    await IdempotencyKey.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    reused = await _post(demo, "manager1", "old", {"input": seed_input(company, reference="x")})
    assert reused.status_code == 200
    assert reused.json()["data"]["invoiceCreate"]["invoice"]["reference"] == "x"
    assert await IdempotencyKey.all().count() == 1


async def test_payload_errors_are_answers_too(demo: Api) -> None:
    payload = {"input": seed_input(await company_id("Customer #B"), currency="XXZ")}
    first = await _post(demo, "manager1", "bad", payload)
    assert first.json()["data"]["invoiceCreate"]["errors"] != []
    retry = await _post(demo, "manager1", "bad", payload)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await Invoice.all().count() == 0


async def test_bad_keys_anonymous_keys_and_queries(demo: Api, client: httpx.AsyncClient) -> None:
    payload = {"input": seed_input(await company_id("Customer #B"))}
    bad = await _post(demo, "manager1", "with space", payload)
    assert (bad.status_code, _code(bad)) == (400, "IDEMPOTENCY_KEY_INVALID")
    anonymous = await client.post(
        "/graphql", json={"query": CREATE, "variables": payload}, headers={"Idempotency-Key": "k"}
    )
    assert (anonymous.status_code, _code(anonymous)) == (401, "UNAUTHENTICATED")
    # A query is repeatable anyway: the key changes nothing and is not stored.
    query = await _post(demo, "manager1", "q", {}, query="{ viewer { username } }")
    assert query.json()["data"]["viewer"]["username"] == "manager1"
    assert not await IdempotencyKey.exists()
    assert await Invoice.all().count() == 0
    # Deleting the user deletes their keys.
    await _post(demo, "manager1", "k2", payload)
    await User.filter(username="manager1").delete()
    assert not await IdempotencyKey.exists()


async def test_concurrent_retries_create_one_invoice(demo: Api) -> None:
    payload = {"input": seed_input(await company_id("Customer #B"))}
    responses = await asyncio.gather(*(_post(demo, "manager1", "race", payload) for _ in range(8)))
    ids = set()
    for response in responses:
        if response.status_code == 409:
            assert _code(response) == "IDEMPOTENCY_KEY_IN_USE"
        else:
            assert response.status_code == 200, response.text
            ids.add(response.json()["data"]["invoiceCreate"]["invoice"]["id"])
    assert len(ids) == 1
    assert await Invoice.all().count() == 1


async def test_an_upload_retried_with_a_new_multipart_boundary_is_replayed(demo: Api) -> None:
    from crm_graphql.models.files import StoredFile
    from tests.files_api import PDF, multipart

    company = await company_id("Customer #B")
    variables = {"input": {"ownerKind": "COMPANY", "ownerId": company, "file": None}}
    headers = {"Authorization": f"Bearer {demo.tokens['manager1']}", "Idempotency-Key": "up"}
    first = await demo.client.post(
        "/graphql", headers=headers, **multipart(variables, PDF, "a.pdf", "application/pdf")
    )
    assert first.json()["data"]["fileUpload"]["errors"] == []
    # httpx picks a new random boundary for each request
    retry = await demo.client.post(
        "/graphql", headers=headers, **multipart(variables, PDF, "a.pdf", "application/pdf")
    )
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await StoredFile.filter(owner_id=int(company)).count() == 1
    other = await demo.client.post(
        "/graphql", headers=headers, **multipart(variables, PDF + b"x", "a.pdf", "application/pdf")
    )
    assert _code(other) == "IDEMPOTENCY_KEY_REUSED"


async def test_a_transient_failure_saves_nothing_and_frees_the_key(
    demo: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_graphql.services import invoices

    await set_numbering("21/[1001]")
    payload = {"input": seed_input(await company_id("Customer #B"))}

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    # The invoice is written, then something unexpected fails before the mutation ends.
    monkeypatch.setattr(invoices, "add_change_activity", broken)
    failed = await _post(demo, "manager1", "flaky", payload)
    assert (failed.status_code, _code(failed)) == (503, "INTERNAL_SERVER_ERROR")
    assert await Invoice.all().count() == 0
    assert not await IdempotencyKey.exists()
    monkeypatch.undo()
    retry = await _post(demo, "manager1", "flaky", payload)
    assert retry.json()["data"]["invoiceCreate"]["invoice"]["billId"] == "21/1001"
    assert await Invoice.all().count() == 1
