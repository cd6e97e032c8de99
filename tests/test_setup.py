"""CRM setup over HTTP (SPEC §8): everybody reads it, only FM users and superadmins
change it; bad values are payload errors naming the field with nothing written; the
invoice logo is an image recognised by its bytes; payment methods CRUD."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.setup import CrmSetup, PaymentMethod
from crm_graphql.services import files as store
from crm_graphql.services.setup import MAX_LOGO_BYTES, get_setup, sniff_image_type
from tests.conftest import IS_POSTGRES
from tests.factories import Api, error_codes, make_user
from tests.setup_api import upload_logo

SETUP_FIELDS = """invoiceAutoNumber invoicePattern invoiceHeader invoiceFooter taxName
  defaultCurrency defaultTaxPercent version
  invoiceLogo { id originalName contentType size sha256 }"""
READ = f"query Setup {{ crmSetup {{ {SETUP_FIELDS} }} }}"
UPDATE = f"""mutation Update($input: CrmSetupUpdateInput!) {{
  crmSetupUpdate(input: $input) {{ setup {{ {SETUP_FIELDS} }} errors {{ field code message }} }}
}}"""
METHODS = "query Methods { paymentMethods { id name text } }"
METHOD_CREATE = """mutation Create($input: PaymentMethodCreateInput!) {
  paymentMethodCreate(input: $input) { paymentMethod { id name text } errors { field code } }
}"""
METHOD_UPDATE = """mutation Change($input: PaymentMethodUpdateInput!) {
  paymentMethodUpdate(input: $input) { paymentMethod { id name text } errors { field code } }
}"""
METHOD_DELETE = """mutation Delete($id: ID!) {
  paymentMethodDelete(id: $id) { deletedId errors { field code } }
}"""

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


async def fm_user(api: Api) -> str:
    await make_user("finance", password="finance-secret", bits=("FM",))
    api.tokens["finance"] = await api.login("finance", "finance-secret")
    return "finance"


# ---------------------------------------------------------------------------------------
# Reading and changing


async def test_every_user_reads_the_defaults(demo: Api) -> None:
    setup = (await demo.data(READ, as_user="user1"))["crmSetup"]
    assert Decimal(setup.pop("defaultTaxPercent")) == 21
    assert setup == {
        "invoiceAutoNumber": True,
        "invoicePattern": "[1]",
        "invoiceHeader": "",
        "invoiceFooter": "",
        "taxName": "VAT",
        "defaultCurrency": "EUR",
        "version": 1,
        "invoiceLogo": None,
    }


async def test_the_tax_percent_reads_the_same_before_and_after_the_row_exists(
    demo: Api,
) -> None:
    # The first read creates the setup row; it must print the stored value, as every
    # later read, the update's payload and the compiled path do.
    assert not await CrmSetup.exists()
    read = "{ crmSetup { defaultTaxPercent } }"
    first = (await demo.data(read, as_user="user1"))["crmSetup"]["defaultTaxPercent"]
    again = (await demo.data(read, as_user="user1"))["crmSetup"]["defaultTaxPercent"]
    assert first == again == "21.0000"
    change = {"input": {"version": 1, "defaultTaxPercent": "10.5"}}
    data = await demo.data(UPDATE, change, as_user="admin")
    assert data["crmSetupUpdate"]["setup"]["defaultTaxPercent"] == "10.5000"
    assert (await demo.data(read, as_user="user1"))["crmSetup"]["defaultTaxPercent"] == "10.5000"


async def test_only_fm_users_and_superadmins_change_it(demo: Api) -> None:
    # Given user1 (Standard user, no FM)
    body = await demo.gql(
        UPDATE, {"input": {"version": 1, "invoicePattern": "X[1]"}}, as_user="user1"
    )
    # Then a FORBIDDEN error, logged, and nothing changed
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await get_setup()).invoice_pattern == "[1]"
    assert await AuditEntry.filter(action="DENIED", username="user1").exists()

    # When the superadmin changes it
    data = await demo.data(
        UPDATE,
        {
            "input": {
                "version": 1,
                "invoicePattern": " 21/[1001] ",
                "invoiceHeader": "ACME Ltd.\nMain street 1",
                "taxName": "IVA",
                "defaultCurrency": "usd",
                "defaultTaxPercent": "10.5",
                "invoiceAutoNumber": False,
            }
        },
        as_user="admin",
    )
    result = data["crmSetupUpdate"]
    assert result["errors"] == []
    setup = result["setup"]
    assert setup["invoicePattern"] == "21/[1001]"
    assert setup["taxName"] == "IVA"
    assert setup["defaultCurrency"] == "USD"
    assert setup["invoiceAutoNumber"] is False
    assert setup["version"] == 2
    entry = await AuditEntry.filter(object_type="CrmSetup", action="UPDATE").first()
    assert entry is not None and entry.changes["invoice_pattern"] == ["[1]", "21/[1001]"]

    # And a user given FM changes it too
    user = await fm_user(demo)
    data = await demo.data(
        UPDATE, {"input": {"version": 2, "invoiceFooter": "Thanks"}}, as_user=user
    )
    assert data["crmSetupUpdate"]["errors"] == []
    assert data["crmSetupUpdate"]["setup"]["version"] == 3

    # While a stale version is refused
    data = await demo.data(UPDATE, {"input": {"version": 2, "invoiceFooter": "Old"}}, as_user=user)
    assert [(e["field"], e["code"]) for e in data["crmSetupUpdate"]["errors"]] == [
        ("version", "STALE")
    ]
    assert (await get_setup()).invoice_footer == "Thanks"


async def test_bad_values_are_payload_errors_and_nothing_is_written(demo: Api) -> None:
    bad = {
        "version": 1,
        "invoicePattern": "FAC-001",
        "defaultCurrency": "XYZ",
        "defaultTaxPercent": "150",
        "invoiceHeader": "New header",
    }
    data = await demo.data(UPDATE, {"input": bad}, as_user="admin")
    result = data["crmSetupUpdate"]
    assert result["setup"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("invoicePattern", "INVALID"),
        ("defaultCurrency", "INVALID"),
        ("defaultTaxPercent", "INVALID"),
    }
    setup = await get_setup()
    assert (setup.invoice_pattern, setup.invoice_header, setup.version) == ("[1]", "", 1)
    assert not await AuditEntry.filter(object_type="CrmSetup").exists()

    for field, value in (
        ("defaultTaxPercent", "-1"),
        ("defaultTaxPercent", "1.23456"),
        ("invoicePattern", "[]"),
        ("invoicePattern", "A[1]B[2]"),
        ("defaultCurrency", "EURO"),
        ("taxName", "   "),
    ):
        data = await demo.data(UPDATE, {"input": {"version": 1, field: value}}, as_user="admin")
        errors = data["crmSetupUpdate"]["errors"]
        assert [e["field"] for e in errors] == [field], (field, value, errors)
    assert (await get_setup()).version == 1

    # A tax of exactly 0 or 100 is fine
    data = await demo.data(
        UPDATE, {"input": {"version": 1, "defaultTaxPercent": "100"}}, as_user="admin"
    )
    assert data["crmSetupUpdate"]["errors"] == []


async def test_unauthenticated_reads_are_refused(api: Api) -> None:
    assert error_codes(await api.gql(READ)) == ["UNAUTHENTICATED"]


async def test_get_setup_creates_row_one_once() -> None:
    first = await get_setup()
    second = await get_setup()
    assert first.id == second.id == 1
    assert await CrmSetup.all().count() == 1


# ---------------------------------------------------------------------------------------
# Logo


async def test_logo_upload_accepts_a_png_and_replaces_the_previous_one(demo: Api) -> None:
    body = await upload_logo(demo, "admin", PNG, name="../../acme logo.png")
    assert "errors" not in body, body
    result = body["data"]["crmSetupLogoUpload"]
    assert result["errors"] == []
    logo = result["setup"]["invoiceLogo"]
    assert logo["contentType"] == "image/png"
    assert logo["size"] == len(PNG)
    assert logo["originalName"] == "acme logo.png"
    first = await StoredFile.get(id=int(logo["id"]))
    assert first.owner_kind == FileOwner.SETUP
    assert store.path_of(first.stored_name).read_bytes() == PNG
    assert (await get_setup()).invoice_logo_file_id == first.id
    # Every CRM user may download it (it is printed on invoices); user2 has no CRM bits.
    url = f"/files/{first.id}"
    for user, status in (("user1", 200), ("user2", 404)):
        response = await demo.client.get(
            url, headers={"Authorization": f"Bearer {demo.tokens[user]}"}
        )
        assert response.status_code == status, user

    # A second logo (a GIF sent as "application/octet-stream") replaces it
    gif = b"GIF89a" + bytes(40)
    body = await upload_logo(demo, "admin", gif, name="logo.gif", content_type="x/y")
    logo = body["data"]["crmSetupLogoUpload"]["setup"]["invoiceLogo"]
    assert logo["contentType"] == "image/gif"
    assert not await StoredFile.filter(id=first.id).exists()
    assert not store.path_of(first.stored_name).exists()
    assert await StoredFile.filter(owner_kind=FileOwner.SETUP).count() == 1


async def test_logo_upload_refuses_what_is_not_an_image(demo: Api) -> None:
    body = await upload_logo(demo, "admin", b"just some text, not a PNG\n" * 10)
    result = body["data"]["crmSetupLogoUpload"]
    assert result["setup"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("file", "INVALID")]
    assert not await StoredFile.filter(owner_kind=FileOwner.SETUP).exists()
    assert (await get_setup()).invoice_logo_file_id is None


async def test_logo_upload_size_limit_and_permission(demo: Api) -> None:
    big = PNG[:8] + bytes(MAX_LOGO_BYTES)
    body = await upload_logo(demo, "admin", big)
    errors = body["data"]["crmSetupLogoUpload"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("file", "TOO_LARGE")]
    assert not await StoredFile.filter(owner_kind=FileOwner.SETUP).exists()

    body = await upload_logo(demo, "user1", PNG)
    assert error_codes(body) == ["FORBIDDEN"]
    assert not await StoredFile.filter(owner_kind=FileOwner.SETUP).exists()


def test_image_types_are_recognised_by_their_bytes() -> None:
    assert sniff_image_type(PNG[:16]) == "image/png"
    assert sniff_image_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff_image_type(b"GIF87a\x01\x00") == "image/gif"
    assert sniff_image_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image_type(b"<svg xmlns=") is None
    assert sniff_image_type(b"") is None


# ---------------------------------------------------------------------------------------
# Payment methods


async def test_payment_methods_crud(demo: Api) -> None:
    # FM users create them
    user = await fm_user(demo)
    data = await demo.data(
        METHOD_CREATE,
        {"input": {"name": " Bank transfer ", "text": "IBAN ES00 0000"}},
        as_user=user,
    )
    created = data["paymentMethodCreate"]
    assert created["errors"] == []
    method_id = created["paymentMethod"]["id"]
    assert created["paymentMethod"]["name"] == "Bank transfer"

    # Names are unique ignoring case; empty names are refused
    data = await demo.data(METHOD_CREATE, {"input": {"name": "bank TRANSFER"}}, as_user="admin")
    assert data["paymentMethodCreate"]["errors"] == [{"field": "name", "code": "UNIQUE"}]
    data = await demo.data(METHOD_CREATE, {"input": {"name": "  "}}, as_user="admin")
    assert data["paymentMethodCreate"]["errors"] == [{"field": "name", "code": "REQUIRED"}]
    data = await demo.data(METHOD_CREATE, {"input": {"name": "Cash"}}, as_user="admin")
    cash_id = data["paymentMethodCreate"]["paymentMethod"]["id"]

    # Everybody reads them, by name
    methods = (await demo.data(METHODS, as_user="user1"))["paymentMethods"]
    assert [m["name"] for m in methods] == ["Bank transfer", "Cash"]

    # Only FM users or superadmins change or delete them
    body = await demo.gql(METHOD_CREATE, {"input": {"name": "Cheque"}}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    body = await demo.gql(METHOD_DELETE, {"id": method_id}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]

    data = await demo.data(
        METHOD_UPDATE, {"input": {"id": method_id, "text": "IBAN ES99 9999"}}, as_user=user
    )
    assert data["paymentMethodUpdate"]["paymentMethod"]["text"] == "IBAN ES99 9999"
    data = await demo.data(
        METHOD_UPDATE, {"input": {"id": method_id, "name": "CASH"}}, as_user=user
    )
    assert data["paymentMethodUpdate"]["errors"] == [{"field": "name", "code": "UNIQUE"}]
    assert (await PaymentMethod.get(id=int(method_id))).name == "Bank transfer"

    data = await demo.data(METHOD_DELETE, {"id": cash_id}, as_user=user)
    assert data["paymentMethodDelete"] == {"deletedId": cash_id, "errors": []}
    data = await demo.data(METHOD_DELETE, {"id": cash_id}, as_user=user)
    assert data["paymentMethodDelete"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    data = await demo.data(
        METHOD_UPDATE, {"input": {"id": "99999999999", "text": "x"}}, as_user=user
    )
    assert data["paymentMethodUpdate"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    assert await PaymentMethod.all().count() == 1
    assert await AuditEntry.filter(object_type="PaymentMethod", action="DELETE").count() == 1


async def test_an_update_that_changes_nothing_keeps_the_version(demo: Api) -> None:
    data = await demo.data(
        UPDATE,
        {"input": {"version": 1, "taxName": "VAT", "defaultTaxPercent": "21"}},
        as_user="admin",
    )
    assert data["crmSetupUpdate"]["errors"] == []
    assert data["crmSetupUpdate"]["setup"]["version"] == 1
    assert not await AuditEntry.filter(object_type="CrmSetup").exists()


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent transactions are tested on PostgreSQL")
async def test_concurrent_updates_of_one_version_let_one_win(demo: Api) -> None:
    await get_setup()
    results = await asyncio.gather(
        *(
            demo.data(UPDATE, {"input": {"version": 1, "invoiceFooter": f"F{n}"}}, as_user="admin")
            for n in range(5)
        )
    )
    outcomes = sorted(
        "ok" if not r["crmSetupUpdate"]["errors"] else r["crmSetupUpdate"]["errors"][0]["code"]
        for r in results
    )
    assert outcomes == ["STALE"] * 4 + ["ok"]
    assert (await get_setup()).version == 2
