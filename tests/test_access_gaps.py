"""Access gaps of issue 12 over HTTP, in the worked-case world of SPEC §2 (the `demo`
fixture, plus the sample data where a test needs contacts, contracts and invoices)."""

from __future__ import annotations

import csv
import io

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract
from crm_graphql.models.files import FileOwner
from crm_graphql.models.users import Assignment, Group, Profile, User, UserMode
from crm_graphql.services import files as file_store
from crm_graphql.services.mutations import atomic
from tests.factories import Api, assign, error_codes, load_sample, make_company, make_user
from tests.leads_api import CREATE_WITH_COMPANY


async def attach(kind: FileOwner, owner_id: int, company_id: int) -> int:
    async def store() -> int:
        stored = await file_store.store(
            kind, owner_id, company_id, b"hello", "note.txt", "text/plain", None, None
        )
        return stored.id

    file_id, errors = await atomic(store)
    assert errors == []
    return file_id


async def export_rows(api: Api, what: str, as_user: str) -> list[list[str]]:
    response = await api.client.get(
        f"/export/{what}.csv", headers={"Authorization": f"Bearer {api.tokens[as_user]}"}
    )
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


COUNTS = """{
  companies { totalCount }
  contacts { totalCount }
  contracts(filter: {status: {in: [ACTIVE, INACTIVE, PENDING]}}) { totalCount }
  invoices { totalCount }
  companyStatistics { byCountry { count } byManager { count } topByActivity { count } }
}"""


# ---------------------------------------------------------------- 1. standalone users


async def test_standalone_user_without_company_sees_no_managed_company(api: Api) -> None:
    # Given the sample world, and a STANDALONE user with no company holding every CRM
    # bit, made manager of Customer #A (with its contacts, a private contract, an
    # invoice and a file)
    await load_sample(api)
    await make_user("loner", profile="CRM manager", mode=UserMode.STANDALONE)
    api.tokens["loner"] = await api.login("loner", "loner-pass")
    customer_a = await Company.get(name="Customer #A")
    loner_id = (await api.data("{ viewer { id } }", as_user="loner"))["viewer"]["id"]
    await Company.filter(id=customer_a.id).update(manager_id=int(loner_id))
    await Contract.filter(company_id=customer_a.id).update(private=True)
    file_id = await attach(FileOwner.COMPANY, customer_a.id, customer_a.id)
    # The same data is there for the company's owner before (control)
    before = await api.data(COUNTS, as_user="admin")
    assert before["contacts"]["totalCount"] > 0 and before["contracts"]["totalCount"] > 0
    assert before["invoices"]["totalCount"] > 0
    # When the loner lists, reads, downloads and exports: nothing (SPEC §2.4)
    seen = await api.data(COUNTS, as_user="loner")
    assert seen == {
        "companies": {"totalCount": 0},
        "contacts": {"totalCount": 0},
        "contracts": {"totalCount": 0},
        "invoices": {"totalCount": 0},
        "companyStatistics": {"byCountry": [], "byManager": [], "topByActivity": []},
    }
    one = await api.gql(
        "query($id: ID!) { company(id: $id) { name } }", {"id": str(customer_a.id)}, as_user="loner"
    )
    assert error_codes(one) == ["NOT_FOUND"]
    download = await api.client.get(
        f"/files/{file_id}", headers={"Authorization": f"Bearer {api.tokens['loner']}"}
    )
    assert download.status_code == 404
    for what in ("companies", "contacts", "contracts", "invoices"):
        assert len(await export_rows(api, what, "loner")) == 1, what  # the header only


# ------------------------------------------- 2. a superadmin sets any managing company

TEMPLATE_CREATE = """mutation($i: CrmTemplateCreateInput!) { crmTemplateCreate(input: $i) {
  template { id company { name } } errors { field code } } }"""
TEMPLATE_UPDATE = """mutation($i: CrmTemplateUpdateInput!) { crmTemplateUpdate(input: $i) {
  template { id name company { name } } errors { field code } } }"""
TEMPLATE_DELETE = """mutation($id: ID!) { crmTemplateDelete(id: $id) {
  deletedId errors { field code } } }"""


async def company_ids() -> dict[str, str]:
    return {c.name: str(c.id) for c in await Company.all()}


async def test_superadmin_sets_any_managing_company(demo: Api) -> None:
    # Given a company the superadmin neither manages nor belongs to, without parent
    outside = await make_company("Elsewhere Ltd", manager=None)
    ids = await company_ids()
    # When admin creates a lead and a template managed by it, then moves the template
    lead = await demo.data(
        CREATE_WITH_COMPANY,
        {"i": {"fullName": "Ann", "companyId": ids["Elsewhere Ltd"]}},
        as_user="admin",
    )
    assert lead["leadCreate"] == {
        "lead": {"id": lead["leadCreate"]["lead"]["id"], "company": {"name": "Elsewhere Ltd"}},
        "errors": [],
    }
    made = await demo.data(
        TEMPLATE_CREATE, {"i": {"name": "Hi", "companyId": str(outside.id)}}, as_user="admin"
    )
    assert made["crmTemplateCreate"]["errors"] == []
    assert made["crmTemplateCreate"]["template"]["company"] == {"name": "Elsewhere Ltd"}
    moved = await demo.data(
        TEMPLATE_UPDATE,
        {"i": {"id": made["crmTemplateCreate"]["template"]["id"], "companyId": ids["Customer #B"]}},
        as_user="admin",
    )
    assert moved["crmTemplateUpdate"]["errors"] == []
    assert moved["crmTemplateUpdate"]["template"]["company"] == {"name": "Customer #B"}
    # A non-superadmin still may not (manager1 cannot see Elsewhere Ltd)
    refused = await demo.data(
        CREATE_WITH_COMPANY,
        {"i": {"fullName": "Bo", "companyId": str(outside.id)}},
        as_user="manager1",
    )
    assert refused["leadCreate"]["errors"] == [{"field": "companyId", "code": "NOT_FOUND"}]


# ---------------------------------------- 6. leads and templates of the maker's colleagues


async def lead_names(api: Api, user: str) -> set[str]:
    body = await api.gql("{ leads(first: 100) { edges { node { fullName } } } }", as_user=user)
    if body.get("data") is None:
        return set()
    return {e["node"]["fullName"] for e in body["data"]["leads"]["edges"]}


async def test_lm_colleagues_see_a_new_lead(demo: Api) -> None:
    # Given user1 creates a lead (managed by My company, which has no parent)
    made = await demo.data(
        CREATE_WITH_COMPANY, {"i": {"fullName": "New prospect"}}, as_user="user1"
    )
    assert made["leadCreate"]["lead"]["company"] is None  # My company is hidden from user1
    # Then user1 (owner) and manager1 (LM, same company) see it; user2 does not
    assert await lead_names(demo, "user1") == {"New prospect"}
    assert await lead_names(demo, "manager1") == {"New prospect"}
    assert await lead_names(demo, "user2") == set()
    # An LW-only colleague is no LM holder: the lead stays hidden from them
    await make_user("writer", bits=("LR", "LW"), company=await Company.get(name="My company"))
    demo.tokens["writer"] = await demo.login("writer", "writer-pass")
    assert await lead_names(demo, "writer") == set()


async def test_template_creator_manages_it(demo: Api) -> None:
    ids = await company_ids()
    # Given manager1 (CM) creates a template for Customer #B (not their own company)
    made = await demo.data(
        TEMPLATE_CREATE,
        {"i": {"name": "Offer", "companyId": ids["Customer #B"]}},
        as_user="manager1",
    )
    assert made["crmTemplateCreate"]["errors"] == []
    template_id = made["crmTemplateCreate"]["template"]["id"]
    # Then they see it, change it and delete it
    listed = await demo.data("{ crmTemplates { id } }", as_user="manager1")
    assert listed["crmTemplates"] == [{"id": template_id}]
    changed = await demo.data(
        TEMPLATE_UPDATE, {"i": {"id": template_id, "name": "Offer 2"}}, as_user="manager1"
    )
    assert changed["crmTemplateUpdate"]["errors"] == []
    assert changed["crmTemplateUpdate"]["template"]["name"] == "Offer 2"
    # user1 (no CM, not its creator, not of Customer #B) neither sees nor changes it
    assert (await demo.data("{ crmTemplates { id } }", as_user="user1"))["crmTemplates"] == []
    hidden = await demo.data(
        TEMPLATE_UPDATE, {"i": {"id": template_id, "name": "Mine"}}, as_user="user1"
    )
    assert hidden["crmTemplateUpdate"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    # A template of My company made by manager1: user1 (of My company) sees and uses
    # it, but neither created it nor holds CM: FORBIDDEN to change
    ours = await demo.data(TEMPLATE_CREATE, {"i": {"name": "Ours"}}, as_user="manager1")
    ours_id = ours["crmTemplateCreate"]["template"]["id"]
    assert (await demo.data("{ crmTemplates { id } }", as_user="user1"))["crmTemplates"] == [
        {"id": ours_id}
    ]
    denied = await demo.gql(TEMPLATE_DELETE, {"id": ours_id}, as_user="user1")
    assert error_codes(denied) == ["FORBIDDEN"]
    # The creator keeps managing their templates after losing CM
    manager1 = await User.get(username="manager1")
    await Assignment.filter(user=manager1).delete()
    standard = await Profile.get(name="Standard user")
    await assign(user=manager1, profile=standard, group=await Group.get(name="All"))
    for made_id in (ours_id, template_id):
        deleted = await demo.data(TEMPLATE_DELETE, {"id": made_id}, as_user="manager1")
        assert deleted["crmTemplateDelete"] == {"deletedId": made_id, "errors": []}


# ------------------------------------- 3. attaching to an invoice is editing the invoice


async def test_invoice_attachments_follow_the_invoice_edit_rule(demo: Api) -> None:
    from tests.factories import company_id
    from tests.files_api import upload
    from tests.invoices_api import create_ok, seed_input

    # Given two IM users of My company without CW (they cannot edit Customer #A), one
    # also holding LM, and user1 (CW and IW: edits Customer #A, not Submitted invoices)
    mine = await Company.get(name="My company")
    await make_user("billing_lm", bits=("CR", "IR", "IM", "LM"), company=mine)
    await make_user("billing", bits=("CR", "IR", "IM"), company=mine)
    for name in ("billing_lm", "billing"):
        demo.tokens[name] = await demo.login(name, f"{name}-pass")
    submitted = await create_ok(demo, "manager1", seed_input(await company_id("Customer #A")))

    async def attach_as(user: str) -> dict:
        body = await upload(demo, user, submitted["id"], kind="INVOICE")
        return body

    # Then both IM users attach (IM edits any invoice), with or without LM
    for user in ("billing_lm", "billing"):
        body = await attach_as(user)
        assert "errors" not in body, body
        assert body["data"]["fileUpload"]["errors"] == [], body
    # And user1, who edits the company but not a Submitted invoice, may not
    refused = await attach_as("user1")
    assert error_codes(refused) == ["FORBIDDEN"]
    # The IM user deletes the file it uploaded; viewerCan.delete says so beforehand
    files = await demo.data(
        """query($id: ID!) { invoice(id: $id) { files(first: 5) {
        edges { node { id viewerCan { delete } } } } } }""",
        {"id": submitted["id"]},
        as_user="billing",
    )
    edges = files["invoice"]["files"]["edges"]
    assert len(edges) >= 2 and all(e["node"]["viewerCan"]["delete"] for e in edges)
    deleted = await demo.data(
        "mutation($id: ID!) { fileDelete(id: $id) { deletedId errors { code } } }",
        {"id": edges[0]["node"]["id"]},
        as_user="billing",
    )
    assert deleted["fileDelete"]["errors"] == []


# ------------------------------------------- 4. calendar events follow their object's rule

CALENDAR = """query($from: Date!, $to: Date!) { calendarEvents(from: $from, to: $to) {
  title kind } }"""


async def calendar_titles(api: Api, user: str) -> set[str]:
    data = await api.data(CALENDAR, {"from": "2026-01-01", "to": "2026-12-31"}, as_user=user)
    return {e["title"] for e in data["calendarEvents"]}


async def feed_text(api: Api, path: str) -> str:
    response = await api.client.get(path)
    assert response.status_code == 200, response.text
    return response.text.replace("\r\n ", "")  # unfold long lines


async def _remind_user1(bill: object) -> object:
    from crm_graphql.services.calendar import create_payment_reminder

    return await create_payment_reminder(await User.get(username="user1"), bill)


async def test_calendar_events_are_shown_only_while_their_object_is_visible(demo: Api) -> None:
    from tests.calendar_api import invoice, new_feed

    # Given a seller (lead bits only) owning a lead with an alarm, and user1 with a
    # payment reminder of an invoice of Customer #A
    await make_user("seller", bits=("LR", "LW"), company=await Company.get(name="My company"))
    demo.tokens["seller"] = await demo.login("seller", "seller-pass")
    made = await demo.data(
        CREATE_WITH_COMPANY,
        {"i": {"fullName": "Alarmed prospect", "alarmAt": "2026-05-04T10:00:00Z"}},
        as_user="seller",
    )
    assert made["leadCreate"]["errors"] == []
    bill = await invoice("REM-1")
    _, errors = await atomic(lambda: _remind_user1(bill))
    assert errors == []
    own = await demo.data(
        """mutation { calendarEventCreate(input: {title: "Own note", startsOn: "2026-05-05"}) {
        errors { code } } }""",
        as_user="user1",
    )
    assert own["calendarEventCreate"]["errors"] == []
    seller_feed = await new_feed(demo, "seller")
    user1_feed = await new_feed(demo, "user1")
    assert await calendar_titles(demo, "seller") == {"Lead alarm: Alarmed prospect"}
    assert await calendar_titles(demo, "user1") == {"Invoice REM-1 due", "Own note"}
    assert "Lead alarm: Alarmed prospect" in await feed_text(demo, seller_feed)
    # When the seller loses the lead bits and the invoice moves to a company user1
    # cannot see
    await Profile.filter(name="seller-profile").update(lr=False, lw=False)
    hidden = await make_company("Hidden Ltd", manager=await User.get(username="admin"))
    await type(bill).filter(id=bill.id).update(company_id=hidden.id)
    # Then neither the calendar nor the feed shows those events any more
    assert await calendar_titles(demo, "seller") == set()
    assert await calendar_titles(demo, "user1") == {"Own note"}
    seller_text = await feed_text(demo, seller_feed)
    user1_text = await feed_text(demo, user1_feed)
    assert "Lead alarm" not in seller_text and "BEGIN:VCALENDAR" in seller_text
    assert "REM-1" not in user1_text and "Own note" in user1_text


# ------------------------------- 10. contract and invoice changes bump the company's lastUpdate


async def test_contract_and_invoice_changes_bump_company_last_update(demo: Api) -> None:
    from datetime import UTC, datetime

    from crm_graphql.services.exports.contracts import CONTRACT_COLUMNS
    from tests import contracts_api as contracts
    from tests import invoices_api as invoices
    from tests.csvdata import contract_row, to_csv, upload

    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    customer_a = await Company.get(name="Customer #A")
    read = "query($id: ID!) { company(id: $id) { lastUpdate } }"

    async def bumped(step: str, action: object) -> None:
        await Company.filter(id=customer_a.id).update(last_update=long_ago)
        await action  # type: ignore[misc]
        data = await demo.data(read, {"id": str(customer_a.id)}, as_user="manager1")
        assert data["company"]["lastUpdate"][:4] != "2001", step

    async def ok(query: str, variables: dict, user: str = "manager1") -> None:
        body = await demo.data(query, variables, as_user=user)
        (result,) = body.values()
        assert result["errors"] == [], (query, result)

    contract: dict = {}

    async def create_contract() -> None:
        contract.update(await contracts.created(demo, "manager1", "Customer #A"))

    await bumped("contract created", create_contract())
    await bumped(
        "contract updated",
        ok(contracts.UPDATE, {"input": {"id": contract["id"], "description": "New terms"}}),
    )
    await bumped("contract deleted", ok(contracts.DELETE, {"id": contract["id"]}))
    csv_body = to_csv([list(CONTRACT_COLUMNS), contract_row("Imported 2024", "Customer #A")])

    async def import_contract() -> None:
        result = await upload(demo, csv_body, mutation="contractImport")
        assert result["errors"] == [] and result["rowErrors"] == [], result

    await bumped("contract imported", import_contract())
    invoice: dict = {}

    async def create_invoice() -> None:
        payload = invoices.seed_input(str(customer_a.id), kind="RECEIVED", billId="SUP-1")
        invoice.update(await invoices.create_ok(demo, "manager1", payload))

    await bumped("invoice created", create_invoice())
    await bumped(
        "invoice updated",
        ok(invoices.UPDATE, {"input": {"id": invoice["id"], "reference": "PO-9"}}),
    )
    await bumped("invoice locked", ok(invoices.LOCK, {"id": invoice["id"]}))
    await bumped("invoice unlocked", ok(invoices.UNLOCK, {"id": invoice["id"]}))
    await bumped("invoice deleted", ok(invoices.DELETE, {"id": invoice["id"]}))


# ------------------------------------------------- 5. invoice sums need IR (SPEC §3)


async def test_billing_and_invoicing_statistics_need_ir(api: Api) -> None:
    # Given the sample world (Customer #A bills 2400.00) and a CRM user of My company
    # without IR (sees both customers)
    await load_sample(api)
    await make_user("crm_only", bits=("CR", "CW"), company=await Company.get(name="My company"))
    api.tokens["crm_only"] = await api.login("crm_only", "crm_only-pass")
    billing = "{ companies { edges { node { name billing { currency amount } } } } }"
    stats = "{ companyStatistics { byCountry { count } topByInvoicing { amount } "
    stats += "invoicingPerManager { amount } } }"
    # Then user1 (IR) sees billing and the invoicing statistics
    seen = await api.data(billing, as_user="user1")
    assert {e["node"]["name"]: e["node"]["billing"] for e in seen["companies"]["edges"]} == {
        "Customer #A": [{"currency": "EUR", "amount": "2400.00"}],
        "Customer #B": [],
    }
    figures = (await api.data(stats, as_user="user1"))["companyStatistics"]
    assert figures["topByInvoicing"] == [{"amount": "2400.00"}]
    # The user without IR gets the companies, billing null with a FORBIDDEN error each
    hidden = await api.gql(billing, as_user="crm_only")
    names = {e["node"]["name"]: e["node"]["billing"] for e in hidden["data"]["companies"]["edges"]}
    assert names == {"Customer #A": None, "Customer #B": None}
    assert set(error_codes(hidden)) == {"FORBIDDEN"}
    hidden_stats = await api.gql(stats, as_user="crm_only")
    assert hidden_stats["data"]["companyStatistics"] == {
        "byCountry": [{"count": 2}],
        "topByInvoicing": None,
        "invoicingPerManager": None,
    }
    assert error_codes(hidden_stats) == ["FORBIDDEN", "FORBIDDEN"]
    # Filtering or sorting on billing would reveal it: FORBIDDEN, for lists, statistics
    # and the CSV export; the export's billing column is empty
    by_billing = "query($f: CompanyFilter) { companies(filter: $f) { totalCount } }"
    flt = {"f": {"billing": {"gte": "1000"}}}
    assert error_codes(await api.gql(by_billing, flt, as_user="crm_only")) == ["FORBIDDEN"]
    assert (await api.data(by_billing, flt, as_user="user1"))["companies"]["totalCount"] == 1
    sorted_query = "{ companies(orderBy: [{field: BILLING, direction: DESC}]) { totalCount } }"
    assert error_codes(await api.gql(sorted_query, as_user="crm_only")) == ["FORBIDDEN"]
    stats_query = (
        "query($f: CompanyFilter) { companyStatistics(filter: $f) { byCountry { count } } }"
    )
    assert error_codes(await api.gql(stats_query, flt, as_user="crm_only")) == ["FORBIDDEN"]
    headers = {"Authorization": f"Bearer {api.tokens['crm_only']}"}
    refused = await api.client.get(
        "/export/companies.csv", params={"filter": '{"billing": {"gte": "1"}}'}, headers=headers
    )
    assert refused.status_code == 403
    rows = await export_rows(api, "companies", "crm_only")
    billing_column = rows[0].index("billing")
    assert [r[billing_column] for r in rows[1:]] == ["", ""]
    rows = await export_rows(api, "companies", "user1")
    assert sorted(r[billing_column] for r in rows[1:]) == ["", "2400.00 EUR"]
