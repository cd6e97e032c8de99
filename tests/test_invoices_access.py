"""SPEC §6 access rules over HTTP, one test each, all on top of view access to the
invoice's company (SPEC §2). In the demo world user1 holds IR+IW and manages Customer
#A; manager1 holds IM and manages Customer #B; both belong to My company, so both see
both customers; user2 holds no CRM bit."""

from __future__ import annotations

from datetime import date

import pytest

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import Invoice
from crm_graphql.services import files as file_store
from crm_graphql.services.mutations import atomic
from tests.factories import Api, company_id, error_codes, make_company, make_invoice, make_user
from tests.invoices_api import (
    CREATE,
    DELETE,
    GET,
    LIST,
    LOCK,
    UNLOCK,
    UPDATE,
    create,
    create_ok,
    seed_input,
)


async def add_user(api: Api, name: str, bits: tuple[str, ...]) -> None:
    await make_user(name, bits=bits, company=await Company.get(name="My company"))
    api.tokens[name] = await api.login(name, f"{name}-pass")


async def update(api: Api, as_user: str, invoice_id: str, **changes: object) -> dict:
    body = await api.gql(UPDATE, {"input": {"id": invoice_id, **changes}}, as_user=as_user)
    return body


async def received(api: Api, as_user: str = "user1", company: str = "Customer #A") -> dict:
    return await create_ok(
        api,
        as_user,
        seed_input(await company_id(company), kind="RECEIVED", billId=f"SUP-{as_user}"),
    )


async def test_ir_views_and_downloads_read_only(demo: Api) -> None:
    # Given an IR-only user of My company and an invoice with an attachment
    await add_user(demo, "reader", ("CR", "IR"))
    invoice = await create_ok(demo, "manager1", seed_input(await company_id("Customer #A")))

    async def attach() -> int:
        stored = await file_store.store(
            FileOwner.INVOICE,
            int(invoice["id"]),
            int(await company_id("Customer #A")),
            b"%PDF-1.4 test",
            "invoice.pdf",
            "application/pdf",
            None,
            None,
        )
        return stored.id

    file_id, errors = await atomic(attach)
    assert errors == []
    # When the reader reads it
    seen = (await demo.data(GET, {"id": invoice["id"]}, as_user="reader"))["invoice"]
    listed = (await demo.data(LIST, as_user="reader"))["invoices"]
    files = await demo.data(
        "query($id: ID!) { invoice(id: $id) { files(first: 5) { totalCount } } }",
        {"id": invoice["id"]},
        as_user="reader",
    )
    download = await demo.client.get(
        f"/files/{file_id}", headers={"Authorization": f"Bearer {demo.tokens['reader']}"}
    )
    export = await demo.client.get(
        "/export/invoices.csv", headers={"Authorization": f"Bearer {demo.tokens['reader']}"}
    )
    # Then the reader views and downloads it
    assert seen["total"] == "2613.60" and listed["totalCount"] == 1
    # The attachment and the generated invoice PDF (services/documents.py)
    assert files["invoice"]["files"]["totalCount"] == 2
    assert download.status_code == 200 and download.content == b"%PDF-1.4 test"
    assert export.status_code == 200 and invoice["billId"] in export.text
    # but may change nothing
    assert seen["viewerCan"] == {"edit": False, "lock": False, "unlock": False, "delete": False}
    for body in (
        await demo.gql(
            CREATE, {"input": seed_input(await company_id("Customer #A"))}, as_user="reader"
        ),
        await update(demo, "reader", invoice["id"], reference="x"),
        await demo.gql(LOCK, {"id": invoice["id"]}, as_user="reader"),
        await demo.gql(DELETE, {"id": invoice["id"]}, as_user="reader"),
    ):
        assert error_codes(body) == ["FORBIDDEN"]
    assert await AuditEntry.filter(action="DENIED", username="reader").count() == 4


async def test_iw_sees_submitted_invoices_read_only(demo: Api) -> None:
    # Given a Submitted invoice (manager1 created it) on a company user1 manages
    invoice = await create_ok(demo, "manager1", seed_input(await company_id("Customer #A")))
    # When user1 (IR+IW) reads and tries to edit it, even after IM unlocked it
    seen = (await demo.data(GET, {"id": invoice["id"]}, as_user="user1"))["invoice"]
    assert seen["viewerCan"]["edit"] is False
    assert error_codes(await update(demo, "user1", invoice["id"], reference="x")) == ["FORBIDDEN"]
    await demo.data(UNLOCK, {"id": invoice["id"]}, as_user="manager1")
    assert error_codes(await update(demo, "user1", invoice["id"], reference="x")) == ["FORBIDDEN"]
    status = await demo.gql(
        "mutation($id: ID!) { invoiceSetStatus(id: $id, status: PAID) { errors { code } } }",
        {"id": invoice["id"]},
        as_user="user1",
    )
    assert error_codes(status) == ["FORBIDDEN"]
    # Then nothing changed, and the denial is in the audit log
    assert (await Invoice.get(id=int(invoice["id"]))).reference == ""
    assert await AuditEntry.filter(action="DENIED", username="user1").count() == 3


async def test_iw_creates_and_locks_and_edits_received_while_unlocked(demo: Api) -> None:
    # IW creates a Received invoice: not locked, editable by IW
    invoice = await received(demo)
    assert invoice["locked"] is False and invoice["viewerCan"]["edit"] is True
    edited = (await update(demo, "user1", invoice["id"], reference="PO-1"))["data"]
    assert edited["invoiceUpdate"]["errors"] == []
    assert edited["invoiceUpdate"]["invoice"]["locked"] is False  # Received: no auto-lock
    # IW locks it
    locked = (await demo.data(LOCK, {"id": invoice["id"]}, as_user="user1"))["invoiceLock"]
    assert locked == {"invoice": {"locked": True, "lockedBy": {"username": "user1"}}, "errors": []}
    # IW creates a Submitted invoice too
    submitted = await create_ok(demo, "user1", seed_input(await company_id("Customer #A")))
    assert submitted["kind"] == "SUBMITTED"


async def test_submitted_invoices_lock_on_create_and_on_edit(demo: Api) -> None:
    # On create, locked by its creator
    invoice = await create_ok(demo, "user1", seed_input(await company_id("Customer #A")))
    assert invoice["locked"] is True and invoice["lockedBy"] == {"username": "user1"}
    # IM unlocks, then edits: locked again, by the editor
    await demo.data(UNLOCK, {"id": invoice["id"]}, as_user="manager1")
    edited = (await update(demo, "manager1", invoice["id"], reference="PO"))["data"]
    result = edited["invoiceUpdate"]["invoice"]
    assert result["locked"] is True and result["lockedBy"] == {"username": "manager1"}
    assert result["version"] == invoice["version"] + 2  # unlock, then edit


async def test_only_im_unlocks(demo: Api) -> None:
    invoice = await create_ok(demo, "user1", seed_input(await company_id("Customer #A")))
    # the locker without IM cannot unlock
    assert error_codes(await demo.gql(UNLOCK, {"id": invoice["id"]}, as_user="user1")) == [
        "FORBIDDEN"
    ]
    assert (await Invoice.get(id=int(invoice["id"]))).locked is True
    # IM can
    unlocked = (await demo.data(UNLOCK, {"id": invoice["id"]}, as_user="manager1"))["invoiceUnlock"]
    assert unlocked == {"invoice": {"locked": False, "lockedBy": None}, "errors": []}
    # unlocking an unlocked invoice is a payload error
    again = (await demo.data(UNLOCK, {"id": invoice["id"]}, as_user="manager1"))["invoiceUnlock"]
    assert again["errors"] == [{"field": "id", "code": "CONFLICT"}]


async def test_a_locked_invoice_is_changed_only_by_its_locker_or_im(demo: Api) -> None:
    # Given a Received invoice locked by user1 and another IW user who sees the company
    await add_user(demo, "writer2", ("CR", "CW", "IR", "IW"))
    invoice = await received(demo)
    await demo.data(LOCK, {"id": invoice["id"]}, as_user="user1")
    # the other IW user is refused (payload CONFLICT), and cannot lock it again
    refused = (await update(demo, "writer2", invoice["id"], reference="x"))["data"]
    assert refused["invoiceUpdate"]["errors"][0]["code"] == "CONFLICT"
    relock = (await demo.data(LOCK, {"id": invoice["id"]}, as_user="writer2"))["invoiceLock"]
    assert relock["errors"] == [{"field": "id", "code": "CONFLICT"}]
    # the locker edits it and it stays locked by them
    mine = (await update(demo, "user1", invoice["id"], reference="mine"))["data"]
    assert mine["invoiceUpdate"]["errors"] == []
    assert mine["invoiceUpdate"]["invoice"]["lockedBy"] == {"username": "user1"}
    # IM edits it
    im = (await update(demo, "manager1", invoice["id"], reference="im"))["data"]
    assert im["invoiceUpdate"]["errors"] == []
    assert (await Invoice.get(id=int(invoice["id"]))).reference == "im"


async def test_only_im_or_superadmin_deletes(demo: Api) -> None:
    first = await received(demo)
    second = await received(demo, "manager1", "Customer #B")
    # IW cannot delete, even an unlocked invoice it created
    assert error_codes(await demo.gql(DELETE, {"id": first["id"]}, as_user="user1")) == [
        "FORBIDDEN"
    ]
    # IM and superadmin can
    by_im = (await demo.data(DELETE, {"id": first["id"]}, as_user="manager1"))["invoiceDelete"]
    assert by_im == {"deletedId": first["id"], "errors": []}
    by_admin = (await demo.data(DELETE, {"id": second["id"]}, as_user="admin"))["invoiceDelete"]
    assert by_admin == {"deletedId": second["id"], "errors": []}
    assert await Invoice.all().count() == 0


async def test_locked_invoices_cannot_be_deleted(demo: Api) -> None:
    invoice = await create_ok(demo, "manager1", seed_input(await company_id("Customer #B")))
    for user in ("manager1", "admin"):
        result = (await demo.data(DELETE, {"id": invoice["id"]}, as_user=user))["invoiceDelete"]
        assert result == {"deletedId": None, "errors": [{"field": "id", "code": "CONFLICT"}]}
    assert await Invoice.filter(id=int(invoice["id"])).exists()
    entry = await AuditEntry.filter(action="REJECTED").order_by("-id").first()
    assert entry is not None and entry.username == "admin"


@pytest.mark.parametrize("bits", [("CR", "IR", "IW", "IM"), ("IR", "IW", "IM")])
async def test_everything_is_on_top_of_company_view_access(demo: Api, bits: tuple) -> None:
    # Given an invoice on a root company only its manager (admin) and superadmins see
    root = await make_company("Root Co", path="", manager_id=None)
    hidden = await make_invoice(root, kind="RECEIVED", bill_id="H-1", issued_on=date.today())
    visible = await received(demo)
    # and an invoice manager of My company (without CR in the second case)
    await add_user(demo, "im", bits)
    # Then the hidden invoice does not exist for them
    assert error_codes(await demo.gql(GET, {"id": str(hidden.id)}, as_user="im")) == ["NOT_FOUND"]
    listed = (await demo.data(LIST, as_user="im"))["invoices"]
    expected = 1 if "CR" in bits else 0
    assert listed["totalCount"] == expected
    for mutation in (DELETE, UNLOCK, LOCK):
        body = await demo.data(mutation, {"id": str(hidden.id)}, as_user="im")
        payload = next(iter(body.values()))
        assert payload["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    # and they cannot create invoices for a company they cannot see
    result = await create(demo, "im", seed_input(str(root.id), kind="RECEIVED", billId="H-2"))
    assert result["errors"][0] == {
        "field": "companyId",
        "code": "NOT_FOUND",
        "message": "No such company.",
    }
    # without CR, not even for a company their colleagues manage
    if "CR" not in bits:
        assert error_codes(await demo.gql(GET, {"id": visible["id"]}, as_user="im")) == [
            "NOT_FOUND"
        ]


async def test_users_without_invoice_bits_see_nothing(demo: Api) -> None:
    await received(demo)
    await add_user(demo, "crm_only", ("CR", "CW", "CM"))
    for user in ("user2", "crm_only"):
        assert error_codes(await demo.gql(LIST, as_user=user)) == ["FORBIDDEN"]
    # a company's nested invoices are empty for a CRM user without IR
    body = await demo.data(
        "{ companies { edges { node { name invoices { totalCount } } } } }", as_user="crm_only"
    )
    assert all(e["node"]["invoices"]["totalCount"] == 0 for e in body["companies"]["edges"])
