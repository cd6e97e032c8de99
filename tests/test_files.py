"""Files of companies and contacts over HTTP, uploaded as GraphQL multipart requests the
way clients send them, downloaded from GET /files/{id}: the company access rule on
both, generated names on disk, size limits, hostile names, deletion rights, nested
lists in a fixed number of statements, and the store's transaction guarantees."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from crm_graphql.app import create_app
from crm_graphql.endpoints.files import content_disposition
from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.users import User
from crm_graphql.services import files as store
from crm_graphql.services.auth import create_api_token
from crm_graphql.services.sqlcount import count_statements
from crm_graphql.settings import settings
from tests.factories import Api, company_id, error_codes, make_company, make_contact
from tests.files_api import PDF, UPLOAD, download, multipart, upload, uploaded

FILES_ROOT = settings.data_dir / "files"

DELETE = "mutation($id: ID!) { fileDelete(id: $id) { deletedId errors { field code message } } }"
ONE = "query($id: ID!) { file(id: $id) { id originalName viewerCan { delete } } }"
COMPANY_FILES = """query($id: ID!) {
  company(id: $id) { files { totalCount edges { node { id originalName } } } }
}"""


def disk_files() -> set[Path]:
    """Every file under the store's root, temporary ones included."""
    return {p for p in FILES_ROOT.rglob("*") if p.is_file()} if FILES_ROOT.exists() else set()


def assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == code


# ---------------------------------------------------------------------------------------
# Upload and download


async def test_upload_then_download_round_trip(demo: Api) -> None:
    # Given user1, manager of Customer #A
    customer_a = await company_id("Customer #A")
    before = disk_files()
    # When user1 uploads a PDF to it
    file = await uploaded(demo, "user1", customer_a, description="  Signed offer ")
    # Then size, hash and metadata are recorded and correct
    assert file["originalName"] == "Offer 2024.pdf"
    assert file["contentType"] == "application/pdf"
    assert file["size"] == len(PDF)
    assert file["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert file["description"] == "Signed offer"
    assert file["uploader"] == {"username": "user1"}
    assert (file["ownerKind"], file["ownerId"]) == ("COMPANY", customer_a)
    assert file["viewerCan"]["delete"] is True
    assert file["downloadUrl"] == f"/files/{file['id']}"
    row = await StoredFile.get(id=file["id"])
    assert row.company_id == int(customer_a)
    # and the bytes are on disk under the data dir with a generated name
    new = disk_files() - before
    assert len(new) == 1
    (path,) = new
    assert path == FILES_ROOT / row.stored_name[:2] / row.stored_name
    assert path.read_bytes() == PDF
    assert "Offer" not in str(path) and ".pdf" not in path.name
    assert len(row.stored_name) == 32 and int(row.stored_name, 16) >= 0
    assert await AuditEntry.filter(
        action="CREATE", object_type="File", object_id=file["id"]
    ).exists()

    # When user1 downloads it: the same bytes with safe headers
    response = await download(demo, "user1", file["downloadUrl"])
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(PDF))
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Offer 2024.pdf\"; filename*=UTF-8''Offer%202024.pdf"
    )
    assert "private" in response.headers["cache-control"]
    # and manager1 (views Customer #A) can download it too
    response = await download(demo, "manager1", file["downloadUrl"])
    assert response.status_code == 200 and response.content == PDF


async def test_contact_files(demo: Api) -> None:
    company = await Company.get(name="Customer #A")
    contact = await make_contact(company, "Ana", email="ana@example.com")
    other = await make_contact(
        company=await Company.get(name="Customer #B"), full_name="Bob", email="bob@example.com"
    )
    file = await uploaded(demo, "user1", str(contact.id), kind="CONTACT", name="cv.txt")
    assert (file["ownerKind"], file["ownerId"]) == ("CONTACT", str(contact.id))
    row = await StoredFile.get(id=file["id"])
    assert (row.owner_kind, row.company_id) == (FileOwner.CONTACT, company.id)
    data = await demo.data(
        "query($id: ID!) { contact(id: $id) { files { totalCount edges { node "
        "{ originalName viewerCan { delete } } } } } }",
        {"id": str(contact.id)},
        as_user="user1",
    )
    assert data["contact"]["files"] == {
        "totalCount": 1,
        "edges": [{"node": {"originalName": "cv.txt", "viewerCan": {"delete": True}}}],
    }
    # A contact file is not a company file.
    data = await demo.data(COMPANY_FILES, {"id": str(company.id)}, as_user="user1")
    assert data["company"]["files"]["totalCount"] == 0
    # user1 can see Customer #B's contact but not attach to it.
    body = await upload(demo, "user1", str(other.id), kind="CONTACT")
    assert error_codes(body) == ["FORBIDDEN"]
    # A contact that does not exist (or is hidden) is NOT_FOUND on ownerId.
    body = await upload(demo, "user1", "999999", kind="CONTACT")
    assert body["data"]["fileUpload"]["errors"][0]["field"] == "ownerId"
    assert body["data"]["fileUpload"]["errors"][0]["code"] == "NOT_FOUND"


async def test_contact_files_follow_the_contact_to_its_new_company(demo: Api) -> None:
    contact = await make_contact(
        company=await Company.get(name="Customer #A"), full_name="Ana", email="ana@example.com"
    )
    file = await uploaded(demo, "user1", str(contact.id), kind="CONTACT")
    assert (await download(demo, "user1", file["downloadUrl"])).status_code == 200
    # When the admin moves the contact to My company (no parent, invisible to user1)
    result = await demo.data(
        "mutation($id: ID!, $c: ID!) { contactUpdate(input: {id: $id, companyId: $c}) "
        "{ errors { code } } }",
        {"id": str(contact.id), "c": await company_id("My company")},
        as_user="admin",
    )
    assert result["contactUpdate"]["errors"] == []
    # Then the file went with it
    assert (await download(demo, "user1", file["downloadUrl"])).status_code == 404
    assert (await download(demo, "admin", file["downloadUrl"])).status_code == 200
    # and a file whose owner is gone is nobody's
    await Contact.filter(id=contact.id).delete()
    assert (await download(demo, "admin", file["downloadUrl"])).status_code == 404


# ---------------------------------------------------------------------------------------
# The company access rule


async def test_user1_downloads_but_cannot_upload_to_customer_b(demo: Api) -> None:
    customer_b = await company_id("Customer #B")
    file = await uploaded(demo, "manager1", customer_b, name="b.pdf")
    response = await download(demo, "user1", file["downloadUrl"])
    assert response.status_code == 200 and response.content == PDF
    data = await demo.data(ONE, {"id": file["id"]}, as_user="user1")
    assert data["file"] == {
        "id": file["id"],
        "originalName": "b.pdf",
        "viewerCan": {"delete": False},
    }

    before = disk_files()
    body = await upload(demo, "user1", customer_b)
    assert error_codes(body) == ["FORBIDDEN"], body
    assert body["data"] is None
    assert await StoredFile.all().count() == 1
    assert disk_files() == before
    assert await AuditEntry.filter(action="DENIED", username="user1").exists()


async def test_files_of_a_company_without_parent_are_invisible_to_user1(demo: Api) -> None:
    # My company has no parent: only its manager (admin) and superadmins see it.
    mine = await company_id("My company")
    file = await uploaded(demo, "admin", mine, name="secret.pdf")
    assert (await download(demo, "admin", file["downloadUrl"])).status_code == 200

    response = await download(demo, "user1", file["downloadUrl"])
    assert_json_error(response, 404, "NOT_FOUND")
    # The same answer as for a file that does not exist: ids reveal nothing.
    missing = await download(demo, "user1", f"/files/{int(file['id']) + 1000}")
    assert missing.status_code == 404 and missing.json() == response.json()
    denied = await AuditEntry.filter(action="DENIED", object_type="File", username="user1")
    assert [(d.object_id, d.changes["reason"]) for d in denied] == [(file["id"], "not visible")]

    body = await demo.gql(ONE, {"id": file["id"]}, as_user="user1")
    assert error_codes(body) == ["NOT_FOUND"]
    data = await demo.data(
        "{ companies { edges { node { name files { totalCount edges { node { id } } } } } } }",
        as_user="user1",
    )
    assert {
        e["node"]["name"]: e["node"]["files"]["totalCount"] for e in data["companies"]["edges"]
    } == {
        "Customer #A": 0,
        "Customer #B": 0,
    }
    # Uploading to a company user1 cannot see: NOT_FOUND, like a company that does not exist.
    body = await upload(demo, "user1", mine)
    assert body["data"]["fileUpload"] == {
        "file": None,
        "errors": [{"field": "ownerId", "code": "NOT_FOUND", "message": "No such company."}],
    }


async def test_user2_without_crm_bits_gets_nothing(demo: Api) -> None:
    file = await uploaded(demo, "user1", await company_id("Customer #A"))
    # user2 belongs to Customer #A, but has no CR.
    assert_json_error(await download(demo, "user2", file["downloadUrl"]), 404, "NOT_FOUND")
    assert error_codes(await demo.gql(ONE, {"id": file["id"]}, as_user="user2")) == ["FORBIDDEN"]
    body = await upload(demo, "user2", await company_id("Customer #A"))
    assert error_codes(body) == ["FORBIDDEN"]
    body = await demo.gql(DELETE, {"id": file["id"]}, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    assert await StoredFile.filter(id=file["id"]).exists()


async def test_without_token_or_with_a_narrow_token(demo: Api) -> None:
    file = await uploaded(demo, "user1", await company_id("Customer #A"))
    response = await download(demo, None, file["downloadUrl"])
    assert_json_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = await demo.client.get(
        file["downloadUrl"], headers={"Authorization": "Bearer crm_nope"}
    )
    assert_json_error(response, 401, "UNAUTHENTICATED")
    body = await upload(demo, None, await company_id("Customer #A"))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    # An API token scoped to creating leads cannot download.
    _, secret = await create_api_token(
        await User.get(username="user1"), "leads", TokenScope.LEADS_CREATE, None
    )
    response = await demo.client.get(
        file["downloadUrl"], headers={"Authorization": f"Bearer {secret}"}
    )
    assert_json_error(response, 403, "FORBIDDEN")
    # Malformed and out-of-range ids are plain 404s.
    for url in ("/files/abc", "/files/0", "/files/99999999999999999999", "/files/%C2%B2"):
        assert_json_error(await download(demo, "user1", url), 404, "NOT_FOUND")


# ---------------------------------------------------------------------------------------
# Limits and hostile input


@pytest.fixture
async def small_limit(app: Starlette, demo: Api) -> AsyncIterator[Api]:
    """An app whose uploads may have at most 1000 bytes; same ORM, same data dir."""
    limits = dataclasses.replace(settings.limits, max_upload_bytes=1000)
    small = create_app(dataclasses.replace(settings, limits=limits))
    async with small.router.lifespan_context(small):
        transport = httpx.ASGITransport(app=small, client=("10.0.0.3", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://small") as http:
            api = Api(http)
            api.tokens = dict(demo.tokens)
            yield api


async def test_upload_over_the_limit_is_refused_and_leaves_nothing(small_limit: Api) -> None:
    customer_a = await company_id("Customer #A")
    before = disk_files()
    body = await upload(small_limit, "user1", customer_a, b"x" * 5000)
    assert body["data"]["fileUpload"]["file"] is None
    assert [(e["field"], e["code"]) for e in body["data"]["fileUpload"]["errors"]] == [
        ("file", "TOO_LARGE")
    ]
    message = body["data"]["fileUpload"]["errors"][0]["message"]
    assert "0.00095 MB" in message and "1000 bytes" in message
    assert await StoredFile.all().count() == 0
    assert disk_files() == before
    # One byte over is over; exactly the limit is fine.
    body = await upload(small_limit, "user1", customer_a, b"y" * 1001)
    assert body["data"]["fileUpload"]["errors"][0]["code"] == "TOO_LARGE"
    file = await uploaded(small_limit, "user1", customer_a, content=b"z" * 1000)
    assert file["size"] == 1000
    assert len(disk_files() - before) == 1
    # A body far over the limit is stopped by the middleware before any parsing.
    response = await small_limit.client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {small_limit.tokens['user1']}"},
        **multipart(
            {"input": {"ownerKind": "COMPANY", "ownerId": customer_a, "file": None}},
            b"w" * 200_000,
            "big.bin",
            "application/octet-stream",
        ),
    )
    # ... with the same code and the same words as the payload error: one behaviour.
    assert_json_error(response, 413, "TOO_LARGE")
    assert response.json()["errors"][0]["message"] == message
    assert await StoredFile.all().count() == 1
    assert len(disk_files() - before) == 1


async def test_hostile_names_are_metadata_only(demo: Api) -> None:
    customer_a = await company_id("Customer #A")
    before = disk_files()
    names = {
        "../../etc/passwd": "passwd",
        "..\\..\\windows\\system.ini": "system.ini",
        "/abs/path/report.pdf": "report.pdf",
        "..": "file",
        "   ": "file",
        "evil\u202egpj.exe": "evilgpj.exe",
        "x" * 300 + ".pdf": "x" * 251 + ".pdf",
    }
    for raw, expected in names.items():
        file = await uploaded(demo, "user1", customer_a, name=raw)
        assert file["originalName"] == expected, raw
    new = disk_files() - before
    assert len(new) == len(names)
    for path in new:
        assert path.parent.parent == FILES_ROOT
        assert len(path.name) == 32 and path.name.startswith(path.parent.name)
    assert not (settings.data_dir / "etc").exists()


async def test_control_characters_in_a_raw_multipart_name(demo: Api) -> None:
    # httpx percent-escapes control characters in part names; send the raw bytes.
    customer_a = await company_id("Customer #A")
    operations = json.dumps(
        {
            "query": UPLOAD,
            "variables": {"input": {"ownerKind": "COMPANY", "ownerId": customer_a, "file": None}},
        }
    )
    boundary = "crmtestboundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.input.file"]}\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="0"; filename="a\x00b\x7f\x1bc\tz\u202e.txt"\r\n'
        "Content-Type: text/html\r\n\r\n"
        "<script>alert(1)</script>\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = await demo.client.post(
        "/graphql",
        content=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Bearer {demo.tokens['user1']}",
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()["data"]["fileUpload"]
    assert result["errors"] == []
    assert result["file"]["originalName"] == "abcz.txt"
    assert result["file"]["contentType"] == "text/html"
    # An HTML upload is never served as HTML.
    response = await download(demo, "user1", result["file"]["downloadUrl"])
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment;")


async def test_non_ascii_names_download_with_rfc6266_headers(demo: Api) -> None:
    file = await uploaded(
        demo,
        "user1",
        await company_id("Customer #A"),
        name="Presupuesto año; v2 €.svg",
        content_type="image/svg+xml",
    )
    assert file["originalName"] == "Presupuesto año; v2 €.svg"
    response = await download(demo, "user1", file["downloadUrl"])
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        'attachment; filename="Presupuesto ano_ v2 .svg"; '
        "filename*=UTF-8''Presupuesto%20a%C3%B1o%3B%20v2%20%E2%82%AC.svg"
    )


def test_content_disposition_cannot_break_out_of_the_header() -> None:
    header = content_disposition('a"b\\c;d\r\ne%.txt')
    assert header == (
        "attachment; filename=\"a_b_c_d__e_.txt\"; filename*=UTF-8''a%22b%5Cc%3Bd%0D%0Ae%25.txt"
    )
    assert (
        content_disposition("日本")
        == "attachment; filename=\"file\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC"
    )


async def test_upload_must_be_a_multipart_file(demo: Api) -> None:
    body = await demo.gql(
        "mutation($input: FileUploadInput!) { fileUpload(input: $input) "
        "{ file { id } errors { field code } } }",
        {
            "input": {
                "ownerKind": "COMPANY",
                "ownerId": await company_id("Customer #A"),
                "file": "x",
            }
        },
        as_user="user1",
    )
    assert body["data"]["fileUpload"] == {
        "file": None,
        "errors": [{"field": "file", "code": "INVALID"}],
    }
    body = await upload(demo, "user1", await company_id("Customer #A"), description="d" * 256)
    assert body["data"]["fileUpload"]["errors"][0]["field"] == "description"
    assert body["data"]["fileUpload"]["errors"][0]["code"] == "TOO_LARGE"
    for bad in ("abc", "0", "99999999999"):
        body = await upload(demo, "user1", bad)
        assert body["data"]["fileUpload"]["errors"][0]["field"] == "ownerId", body
    assert await StoredFile.all().count() == 0


# ---------------------------------------------------------------------------------------
# Deleting


async def test_delete_by_uploader_removes_row_and_bytes(demo: Api) -> None:
    file = await uploaded(demo, "user1", await company_id("Customer #A"))
    path = store.path_of((await StoredFile.get(id=file["id"])).stored_name)
    assert path.exists()
    data = await demo.data(DELETE, {"id": file["id"]}, as_user="user1")
    assert data["fileDelete"] == {"deletedId": file["id"], "errors": []}
    assert not await StoredFile.filter(id=file["id"]).exists()
    assert not path.exists()
    assert await AuditEntry.filter(
        action="DELETE", object_type="File", object_id=file["id"]
    ).exists()
    assert_json_error(await download(demo, "user1", file["downloadUrl"]), 404, "NOT_FOUND")
    data = await demo.data(DELETE, {"id": file["id"]}, as_user="user1")
    assert data["fileDelete"]["errors"] == [
        {"field": "id", "code": "NOT_FOUND", "message": "No such file."}
    ]


async def test_delete_by_another_cw_user_without_cm_is_forbidden(demo: Api) -> None:
    # manager1 (CM) attaches a file to Customer #A; user1 manages A but has no CM.
    file = await uploaded(demo, "manager1", await company_id("Customer #A"))
    data = await demo.data(ONE, {"id": file["id"]}, as_user="user1")
    assert data["file"]["viewerCan"]["delete"] is False
    body = await demo.gql(DELETE, {"id": file["id"]}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    assert await StoredFile.filter(id=file["id"]).exists()
    assert store.path_of((await StoredFile.get(id=file["id"])).stored_name).exists()


async def test_deprecated_viewer_can_delete_answers_as_viewer_can(demo: Api) -> None:
    file = await uploaded(demo, "manager1", await company_id("Customer #A"))
    both = "query($id: ID!) { file(id: $id) { viewerCanDelete viewerCan { delete } } }"
    for user, allowed in (("user1", False), ("manager1", True), ("admin", True)):
        data = await demo.data(both, {"id": file["id"]}, as_user=user)
        assert data["file"] == {"viewerCanDelete": allowed, "viewerCan": {"delete": allowed}}
    fields = await demo.data(
        '{ __type(name: "File") { fields(includeDeprecated: true) '
        "{ name isDeprecated deprecationReason } } }",
        as_user="admin",
    )
    deprecated = {f["name"]: f for f in fields["__type"]["fields"] if f["isDeprecated"]}
    assert deprecated["viewerCanDelete"]["deprecationReason"] == "Use viewerCan { delete }"
    assert "viewerCan" not in deprecated


async def test_manager_with_cm_deletes_a_colleagues_file(demo: Api) -> None:
    file = await uploaded(demo, "user1", await company_id("Customer #A"))
    data = await demo.data(ONE, {"id": file["id"]}, as_user="manager1")
    assert data["file"]["viewerCan"]["delete"] is True
    data = await demo.data(DELETE, {"id": file["id"]}, as_user="manager1")
    assert data["fileDelete"]["errors"] == []
    assert await StoredFile.all().count() == 0


async def test_uploader_who_lost_edit_access_cannot_delete(demo: Api) -> None:
    customer_a = await company_id("Customer #A")
    file = await uploaded(demo, "user1", customer_a)
    # Customer #A passes to manager1: user1 still sees it (a colleague's company).
    await Company.filter(id=int(customer_a)).update(
        manager_id=(await User.get(username="manager1")).id
    )
    data = await demo.data(ONE, {"id": file["id"]}, as_user="user1")
    assert data["file"]["viewerCan"]["delete"] is False
    assert error_codes(await demo.gql(DELETE, {"id": file["id"]}, as_user="user1")) == ["FORBIDDEN"]
    # A superadmin may always delete.
    data = await demo.data(DELETE, {"id": file["id"]}, as_user="admin")
    assert data["fileDelete"]["errors"] == []


async def test_missing_bytes_are_a_404_not_a_crash(demo: Api) -> None:
    file = await uploaded(demo, "user1", await company_id("Customer #A"))
    store.path_of((await StoredFile.get(id=file["id"])).stored_name).unlink()
    assert_json_error(await download(demo, "user1", file["downloadUrl"]), 404, "NOT_FOUND")
    # and deleting such a file still works
    data = await demo.data(DELETE, {"id": file["id"]}, as_user="user1")
    assert data["fileDelete"]["errors"] == []


# ---------------------------------------------------------------------------------------
# Nested lists


NESTED = """query Nested {
  companies(first: 50) { edges { node {
    name
    files(first: 2) { totalCount pageInfo { hasNextPage }
      edges { node { originalName size downloadUrl viewerCan { delete } uploader { username } } } }
    contacts(first: 5) { edges { node {
      files { totalCount edges { node { originalName viewerCan { delete } } } } } } }
  } } }
}"""


async def _world(companies: int, files_each: int) -> None:
    user1 = await User.get(username="user1")
    parent = await Company.get(name="My company")
    for i in range(companies):
        company = await make_company(f"Shop {companies}-{i}", parent=parent, manager=user1)
        contact = await make_contact(company, "C", email="c@example.com")
        async with store.file_transaction():
            for j in range(files_each):
                await store.store(
                    FileOwner.COMPANY,
                    company.id,
                    company.id,
                    b"abc",
                    f"f{j}.txt",
                    "text/plain",
                    "",
                    user1,
                )
                await store.store(
                    FileOwner.CONTACT,
                    contact.id,
                    company.id,
                    b"abcd",
                    f"c{j}.txt",
                    "text/plain",
                    "",
                    user1,
                )


async def test_nested_files_cost_a_fixed_number_of_statements(demo: Api) -> None:
    async def count(query: str = NESTED) -> tuple[int, dict[str, Any]]:
        await demo.data("{ __typename }", as_user="user1")  # warm-up (token touch)
        with count_statements() as statements:
            data = await demo.data(query, as_user="user1")
        return len(statements), data

    authentication, _ = await count("{ __typename }")
    await _world(2, 1)
    small, data = await count()
    shops = [e["node"] for e in data["companies"]["edges"] if e["node"]["name"].startswith("Shop")]
    assert len(shops) == 2
    assert shops[0]["files"]["totalCount"] == 1

    await _world(12, 4)
    large, data = await count()
    shops = [e["node"] for e in data["companies"]["edges"] if e["node"]["name"].startswith("Shop")]
    assert len(shops) == 14
    big = next(s for s in shops if s["name"] == "Shop 12-0")
    assert big["files"]["totalCount"] == 4
    assert big["files"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["originalName"] for e in big["files"]["edges"]] == ["f3.txt", "f2.txt"]
    node = big["files"]["edges"][0]["node"]
    assert node["uploader"] == {"username": "user1"} and node["viewerCan"]["delete"] is True
    contact_files = big["contacts"]["edges"][0]["node"]["files"]
    assert contact_files["totalCount"] == 4 and len(contact_files["edges"]) == 4
    assert small == large, (small, large)
    # One statement on the compiled read path (the executor's loaders take 9: companies;
    # company files, their counts, uploaders, owner companies (viewerCan.delete);
    # contacts; contact files, their counts, owner contacts (viewerCan.delete)).
    assert large - authentication == 1


# ---------------------------------------------------------------------------------------
# The store's transaction guarantees (service level)


async def test_store_rolls_back_bytes_with_the_transaction(demo: Api) -> None:
    company = await Company.get(name="Customer #A")
    user1 = await User.get(username="user1")
    before = disk_files()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.file_transaction():
            await store.store(
                FileOwner.COMPANY, company.id, company.id, b"data", "a.txt", None, None, user1
            )
            assert len(disk_files() - before) == 1
            raise Boom
    assert disk_files() == before
    assert await StoredFile.all().count() == 0

    # A failed savepoint removes its own bytes; the outer transaction keeps its own.
    async with store.file_transaction():
        kept = await store.store(
            FileOwner.COMPANY, company.id, company.id, b"kept", "k.txt", None, None, user1
        )
        with pytest.raises(Boom):
            async with store.file_transaction():
                await store.store(
                    FileOwner.COMPANY, company.id, company.id, b"gone", "g.txt", None, None, user1
                )
                raise Boom
    assert [f.original_name for f in await StoredFile.all()] == ["k.txt"]
    assert disk_files() - before == {store.path_of(kept.stored_name)}

    # A delete that rolls back keeps the bytes; one that commits removes them after.
    with pytest.raises(Boom):
        async with store.file_transaction():
            await store.delete(kept, user1)
            assert store.path_of(kept.stored_name).exists()
            raise Boom
    assert store.path_of(kept.stored_name).exists()
    assert await StoredFile.filter(id=kept.id).exists()
    async with store.file_transaction():
        assert await store.delete_for_owners(FileOwner.COMPANY, [company.id], user1) == 1
    assert not store.path_of(kept.stored_name).exists()
    assert disk_files() == before


async def test_store_refuses_to_run_where_it_could_not_clean_up(demo: Api) -> None:
    company = await Company.get(name="Customer #A")
    with pytest.raises(RuntimeError):
        await store.store(FileOwner.COMPANY, company.id, company.id, b"x", "x", None, None, None)
    with pytest.raises(RuntimeError):
        async with in_transaction(), store.file_transaction():
            pass


async def test_store_accepts_streams_and_sanitises_crlf(demo: Api) -> None:
    company = await Company.get(name="Customer #A")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"0123456789" * 10_000

    async with store.file_transaction():
        stored = await store.store(
            FileOwner.COMPANY,
            company.id,
            company.id,
            chunks(),
            "line\r\nbreak\x00.csv",
            "Text/CSV; charset=utf-8",
            "streamed",
            None,
        )
    assert stored.original_name == "linebreak.csv"
    assert stored.content_type == "text/csv"
    assert stored.size == 300_000
    expected = hashlib.sha256(b"0123456789" * 30_000).hexdigest()
    assert stored.sha256 == expected
    assert hashlib.sha256(store.path_of(stored.stored_name).read_bytes()).hexdigest() == expected


async def test_a_stream_that_fails_midway_leaves_nothing(demo: Api) -> None:
    company = await Company.get(name="Customer #A")
    before = disk_files()

    async def broken() -> AsyncIterator[bytes]:
        yield b"first chunk"
        raise OSError("client went away")

    with pytest.raises(OSError):
        async with store.file_transaction():
            await store.store(
                FileOwner.COMPANY, company.id, company.id, broken(), "a", None, None, None
            )
    assert disk_files() == before
    assert await StoredFile.all().count() == 0


def test_sanitize_name() -> None:
    assert store.sanitize_name(None) == "file"
    assert store.sanitize_name("") == "file"
    assert store.sanitize_name("a/b\\c\r\n\x00d.txt") == "cd.txt"
    assert store.sanitize_name(" .hidden ") == "hidden"
    assert store.sanitize_name("re\u0301sume\u0301.pdf") == "résumé.pdf"
    long = store.sanitize_name("n" * 400)
    assert long == "n" * 255
    assert store.sanitize_name("a" * 300 + ".tar.gz") == "a" * 252 + ".gz"
    assert len(store.sanitize_name("é" * 300 + ".docx")) == 255
    assert store.normalize_content_type("image/PNG") == "image/png"
    assert store.normalize_content_type("nonsense") == "application/octet-stream"
    assert store.normalize_content_type("text/html\r\nX-Evil: 1") == "application/octet-stream"
    with pytest.raises(ValueError):
        store.path_of("../../etc/passwd")


async def test_deleting_the_owner_trashes_its_files_and_purging_deletes_them(demo: Api) -> None:
    # Given files on Customer #B and on one of its contacts...
    before = disk_files()
    b = await company_id("Customer #B")
    contact = await demo.data(
        'mutation($c: ID!) { contactCreate(input: {companyId: $c, fullName: "Zed", '
        'email: "zed@example.com"}) { contact { id } } }',
        {"c": b},
        as_user="manager1",
    )
    contact_id = contact["contactCreate"]["contact"]["id"]
    on_company = await uploaded(demo, "manager1", b)
    on_contact = await uploaded(demo, "manager1", contact_id, kind="CONTACT")
    assert len(disk_files() - before) == 2
    # ...deleting the contact takes its file away (to the trash), deleting the company
    # the rest; the bytes stay until the trash entries are purged (issue 18).
    await demo.data(
        "mutation($id: ID!) { contactDelete(id: $id) { deletedId } }",
        {"id": contact_id},
        as_user="manager1",
    )
    assert not await StoredFile.filter(id=int(on_contact["id"])).exists()
    gone = await demo.data(
        "mutation($id: ID!) { companyDelete(id: $id) { errors { code } } }",
        {"id": b},
        as_user="manager1",
    )
    assert gone["companyDelete"]["errors"] == []
    assert not await StoredFile.filter(id=int(on_company["id"])).exists()
    assert len(disk_files() - before) == 2
    trash = await demo.data("{ trash { edges { node { id } } } }", as_user="admin")
    entries = [edge["node"]["id"] for edge in trash["trash"]["edges"]]
    purged = await demo.data(
        "mutation($ids: [ID!]!) { purge(ids: $ids) { purgedIds errors { code } } }",
        {"ids": entries},
        as_user="admin",
    )
    assert purged["purge"]["errors"] == [] and len(purged["purge"]["purgedIds"]) == 2
    assert disk_files() == before
