"""Leads over HTTP: the access rule (SPEC §7) for every kind of viewer, history lines,
bad input, search, saved searches, mass operations, tags, types and lead files."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead, LeadHistory
from tests.factories import Api, company_id, error_codes, make_company, make_user
from tests.files_api import upload
from tests.leads_api import CREATE, LEAD_FIELDS, create

UPDATE = f"""mutation($i: LeadUpdateInput!) {{
  leadUpdate(input: $i) {{ lead {{ {LEAD_FIELDS} }} errors {{ field code message }} }} }}"""
LIST = """query($f: LeadFilter, $o: [LeadOrder!], $s: ID) {
  leads(filter: $f, orderBy: $o, savedSearchId: $s, first: 100) {
    totalCount edges { node { id fullName } } } }"""
HISTORY = """query($id: ID!) { lead(id: $id) {
  history { totalCount edges { node { kind description user { username } } } } } }"""


async def visible_names(api: Api, user: str, flt: dict[str, Any] | None = None) -> set[str]:
    flt = {"showFinished": True} if flt is None else flt
    data = await api.data(LIST, {"f": flt}, as_user=user)
    return {e["node"]["fullName"] for e in data["leads"]["edges"]}


async def world(api: Api) -> dict[str, dict[str, Any]]:
    """Lead A (user1's, managed by Customer #A), lead B (manager1's, Customer #B) and a
    pool lead (no owner, no managing company)."""
    a = await create(api, "user1", fullName="Lead A", companyId=await company_id("Customer #A"))
    b = await create(api, "manager1", fullName="Lead B", companyId=await company_id("Customer #B"))
    pool = await create(api, "admin", fullName="Pool lead", ownerId=None, companyId=None)
    return {"a": a, "b": b, "pool": pool}


# ---------------------------------------------------------------- access


async def test_owner_and_company_viewers_see_leads_others_do_not(demo: Api) -> None:
    # Given the three leads and an outsider with every lead bit, in a company of its own
    leads = await world(demo)
    outside = await make_company("Elsewhere Ltd")
    await make_user("outsider", password="outsider", bits=("CR", "LR", "LW"), company=outside)
    await make_user(
        "nocr", password="nocr", bits=("LR",), company=await Company.get(name="My company")
    )
    for name in ("outsider", "nocr"):
        demo.tokens[name] = await demo.login(name, name)
    # Then: the owner and those who view the managing company see each lead
    assert await visible_names(demo, "user1") == {"Lead A", "Lead B", "Pool lead"}
    assert await visible_names(demo, "manager1") == {"Lead A", "Lead B", "Pool lead"}
    assert await visible_names(demo, "admin") == {"Lead A", "Lead B", "Pool lead"}
    # the outsider sees only the pool; without CR only one's own leads and the pool
    assert await visible_names(demo, "outsider") == {"Pool lead"}
    assert await visible_names(demo, "nocr") == {"Pool lead"}
    # and a hidden lead is NOT_FOUND by id
    body = await demo.gql(
        "query($id: ID!) { lead(id: $id) { id } }", {"id": leads["a"]["id"]}, as_user="outsider"
    )
    assert error_codes(body) == ["NOT_FOUND"]


async def test_user_without_lead_bits_sees_no_lead(demo: Api) -> None:
    await world(demo)
    body = await demo.gql(LIST, {"f": {"showFinished": True}}, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    body = await demo.gql(CREATE, {"i": {"fullName": "X"}}, as_user="user2")
    assert error_codes(body) == ["FORBIDDEN"]
    assert await Lead.filter(full_name="X").count() == 0


async def test_owner_edits_colleague_cannot_manager_can(demo: Api) -> None:
    leads = await world(demo)
    # user1 sees lead B (Customer #B is a colleague's company) but does not own it
    assert leads["b"]["id"] in {
        e["node"]["id"]
        for e in (await demo.data(LIST, {"f": {}}, as_user="user1"))["leads"]["edges"]
    }
    body = await demo.gql(UPDATE, {"i": {"id": leads["b"]["id"], "phone": "1"}}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await Lead.get(id=leads["b"]["id"])).phone == ""
    # the owner edits; LM edits anyone's
    own = await demo.data(UPDATE, {"i": {"id": leads["a"]["id"], "phone": "2"}}, as_user="user1")
    assert own["leadUpdate"]["lead"]["viewerCan"] == {"edit": True, "take": False, "delete": False}
    managed = await demo.data(
        UPDATE, {"i": {"id": leads["a"]["id"], "phone": "3"}}, as_user="manager1"
    )
    assert managed["leadUpdate"]["errors"] == []
    assert (await Lead.get(id=leads["a"]["id"])).phone == "3"


async def test_unowned_lead_is_taken_by_a_lead_writer_only(demo: Api) -> None:
    leads = await world(demo)
    await make_user(
        "reader", password="reader", bits=("CR", "LR"), company=await Company.get(name="My company")
    )
    demo.tokens["reader"] = await demo.login("reader", "reader")
    take = """mutation($id: ID!) { leadTake(id: $id) {
        lead { owner { username } company { name } } errors { code } } }"""
    body = await demo.gql(take, {"id": leads["pool"]["id"]}, as_user="reader")
    assert error_codes(body) == ["FORBIDDEN"]
    data = await demo.data(take, {"id": leads["pool"]["id"]}, as_user="user1")
    taken = data["leadTake"]["lead"]
    # the taker owns it, and its managing company becomes the taker's (My company)
    assert taken["owner"] == {"username": "user1"}
    lead = await Lead.get(id=leads["pool"]["id"])
    assert lead.company_id == int(await company_id("My company"))
    # My company has no parent: its manager (admin), the owner and the owner's LM
    # colleagues (manager1, SPEC §7) see the lead now; an LR-only colleague does not
    assert "Pool lead" in await visible_names(demo, "manager1")
    assert "Pool lead" not in await visible_names(demo, "reader")
    again = await demo.data(take, {"id": leads["pool"]["id"]}, as_user="admin")
    assert again["leadTake"]["errors"] == [{"code": "CONFLICT"}]
    history = await demo.data(HISTORY, {"id": leads["pool"]["id"]}, as_user="user1")
    kinds = [e["node"]["kind"] for e in history["lead"]["history"]["edges"]]
    assert kinds == ["CREATED", "OWNER_TAKEN"]


async def test_only_lead_managers_delete(demo: Api) -> None:
    leads = await world(demo)
    delete = "mutation($id: ID!) { leadDelete(id: $id) { deletedId errors { code } } }"
    body = await demo.gql(delete, {"id": leads["a"]["id"]}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    assert await Lead.filter(id=leads["a"]["id"]).exists()
    data = await demo.data(delete, {"id": leads["a"]["id"]}, as_user="manager1")
    assert data["leadDelete"]["deletedId"] == leads["a"]["id"]
    assert not await Lead.filter(id=leads["a"]["id"]).exists()
    assert not await LeadHistory.filter(lead_id=int(leads["a"]["id"])).exists()


async def test_company_open_lead_figures_follow_the_rule(demo: Api) -> None:
    await world(demo)
    await create(
        demo, "user1", fullName="Second", companyId=await company_id("Customer #A"),
        estimatedSale="1500.50", currency="USD",
    )  # fmt: skip
    await create(
        demo, "user1", fullName="Third", companyId=await company_id("Customer #A"),
        estimatedSale="100", progress=200,
    )  # fmt: skip
    query = """{ companies(filter: {name: {eq: "Customer #A"}}) { edges { node {
        openLeadCount openLeadEstimatedSales { currency amount } } } } }"""
    node = (await demo.data(query, as_user="user1"))["companies"]["edges"][0]["node"]
    # the closed lead does not count; currencies are not added together
    assert node["openLeadCount"] == 2
    assert node["openLeadEstimatedSales"] == [
        {"currency": "EUR", "amount": "0.00"},
        {"currency": "USD", "amount": "1500.50"},
    ]


# ---------------------------------------------------------------- history and bad input


async def test_history_lines_name_the_steps_and_values(demo: Api) -> None:
    lead = await create(demo, "user1", fullName="Histories")
    setup = await demo.data("{ crmSetup { version } }", as_user="admin")
    renamed = await demo.data(
        "mutation($i: CrmSetupUpdateInput!) { crmSetupUpdate(input: $i) { errors { field } } }",
        {"i": {"version": setup["crmSetup"]["version"],
               "leadProgressNames": [{"code": 20, "name": "Demo booked"}]}},
        as_user="admin",
    )  # fmt: skip
    assert renamed["crmSetupUpdate"]["errors"] == []
    await demo.data(
        UPDATE,
        {"i": {"id": lead["id"], "progress": 20, "estimatedSale": "1000",
               "closeDate": "2027-01-31", "country": "Spain"}},
        as_user="user1",
    )  # fmt: skip
    close = """mutation($id: ID!) { leadClose(id: $id, progress: 200) {
        lead { closed progress { name } } errors { code } } }"""
    closed = await demo.data(close, {"id": lead["id"]}, as_user="user1")
    assert closed["leadClose"]["lead"] == {
        "closed": True,
        "progress": {"name": "Closed successfully"},
    }
    data = await demo.data(HISTORY, {"id": lead["id"]}, as_user="user1")
    lines = [
        (e["node"]["kind"], e["node"]["description"], e["node"]["user"]["username"])
        for e in data["lead"]["history"]["edges"]
    ]
    assert lines == [
        ("CREATED", "Created", "user1"),
        ("PROGRESS", "Progress New -> Demo booked", "user1"),
        ("ESTIMATED_SALE", "Estimated sale 0.00 EUR -> 1000.00 EUR", "user1"),
        ("CLOSE_DATE", "Close date none -> 2027-01-31", "user1"),
        ("UPDATED", "Updated: country", "user1"),
        ("CLOSED", "Progress Demo booked -> Closed successfully", "user1"),
    ]


async def test_bad_input_is_reported_field_by_field_and_writes_nothing(demo: Api) -> None:
    body = await demo.data(
        CREATE,
        {"i": {"fullName": " ", "progress": 7, "estimatedSale": "-5", "ownerId": "99999",
               "tagIds": ["99999"], "email": "not-an-address", "channel": "Carrier pigeon"}},
        as_user="user1",
    )  # fmt: skip
    fields = {e["field"]: e["code"] for e in body["leadCreate"]["errors"]}
    assert fields == {
        "fullName": "REQUIRED",
        "progress": "INVALID",
        "estimatedSale": "INVALID",
        "ownerId": "NOT_FOUND",
        "tagIds": "NOT_FOUND",
        "email": "INVALID",
        "channel": "INVALID",
    }
    assert body["leadCreate"]["lead"] is None
    assert await Lead.all().count() == 0
    lead = await create(demo, "user1", fullName="Kept")
    body = await demo.data(
        UPDATE, {"i": {"id": lead["id"], "progress": 55, "fullName": "Changed"}}, as_user="user1"
    )
    assert [e["field"] for e in body["leadUpdate"]["errors"]] == ["progress"]
    stored = await Lead.get(id=lead["id"])
    assert (stored.full_name, stored.version) == ("Kept", 1)
    assert await LeadHistory.filter(lead_id=stored.id).count() == 1
    stale = await demo.data(UPDATE, {"i": {"id": lead["id"], "version": 7}}, as_user="user1")
    assert stale["leadUpdate"]["errors"][0]["code"] == "STALE"


async def test_duplicate_email_is_flagged_or_refused(demo: Api) -> None:
    await create(demo, "user1", fullName="First", email="Same@Example.com")
    second = await create(demo, "user1", fullName="Second", email="same@example.com")
    assert second["duplicate"] is True
    body = await demo.data(
        CREATE,
        {"i": {"fullName": "Third", "email": "SAME@example.com"}, "r": True},
        as_user="user1",
    )
    assert body["leadCreate"]["errors"][0]["code"] == "DUPLICATE"
    assert await Lead.filter(full_name="Third").count() == 0


# ---------------------------------------------------------------- search


async def test_search_filters_and_order(demo: Api) -> None:
    tag_query = (
        "mutation($i: LeadTagInput!) { leadTagCreate(input: $i) { tag { id } errors { code } } }"
    )
    hot = await demo.data(
        tag_query, {"i": {"name": "Hot", "colour": "#FF0000"}}, as_user="manager1"
    )
    hot_id = hot["leadTagCreate"]["tag"]["id"]
    cold = await demo.data(
        tag_query, {"i": {"name": "Cold", "colour": "#0000ff"}}, as_user="manager1"
    )
    cold_id = cold["leadTagCreate"]["tag"]["id"]
    small = await create(demo, "admin", fullName="Small", estimatedSale="10", country="Spain",
                         tagIds=[cold_id], description="wants a demo")  # fmt: skip
    await create(demo, "admin", fullName="Big", estimatedSale="5000", country="France",
                 tagIds=[hot_id], email="big@corp.example")  # fmt: skip
    await create(demo, "admin", fullName="Won", estimatedSale="7000", progress=200)
    await create(demo, "admin", fullName="Medium", estimatedSale="1000", prospectCompany="Acme")
    # open only by default; showFinished or a progress condition includes closed ones
    assert await visible_names(demo, "admin", {}) == {"Small", "Big", "Medium"}
    assert "Won" in await visible_names(demo, "admin", {"progress": {"eq": 200}})
    # text: an id, else name, e-mail, prospect company, description
    assert await visible_names(demo, "admin", {"search": small["id"]}) == {"Small"}
    assert await visible_names(demo, "admin", {"search": "CORP"}) == {"Big"}
    assert await visible_names(demo, "admin", {"search": "acme"}) == {"Medium"}
    assert await visible_names(demo, "admin", {"search": "demo"}) == {"Small"}
    # tags (any of), estimated sale at least, country
    assert await visible_names(demo, "admin", {"tags": [hot_id, cold_id]}) == {"Small", "Big"}
    assert await visible_names(demo, "admin", {"estimatedSale": {"gte": "1000"}}) == {
        "Big", "Medium",
    }  # fmt: skip
    assert await visible_names(demo, "admin", {"country": {"eq": "France"}}) == {"Big"}
    # order by estimated sale, highest first (numerically, not as text)
    data = await demo.data(
        LIST,
        {"f": {"showFinished": True}, "o": [{"field": "ESTIMATED_SALE", "direction": "DESC"}]},
        as_user="admin",
    )  # fmt: skip
    assert [e["node"]["fullName"] for e in data["leads"]["edges"]] == [
        "Won", "Big", "Medium", "Small",
    ]  # fmt: skip
    body = await demo.gql(LIST, {"f": {"progress": {"eq": 7}}}, as_user="admin")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_lead_type_custom_fields_are_set_and_filtered(demo: Api) -> None:
    kind = await demo.data(
        'mutation { leadTypeCreate(input: {name: "Software"}) { leadType { id } } }',
        as_user="manager1",
    )
    type_id = kind["leadTypeCreate"]["leadType"]["id"]
    field = await demo.data(
        """mutation($t: ID!) { customFieldCreate(input: {entity: LEAD, ownerId: $t, name: "Seats",
           kind: NUMERIC}) { customField { id } errors { field code } } }""",
        {"t": type_id}, as_user="manager1",
    )  # fmt: skip
    field_id = field["customFieldCreate"]["customField"]["id"]
    # user1 has no CM nor LM: cannot define lead fields
    body = await demo.gql(
        """mutation($t: ID!) { customFieldCreate(input: {entity: LEAD, ownerId: $t, name: "X",
           kind: TEXT}) { errors { code } } }""", {"t": type_id}, as_user="user1",
    )  # fmt: skip
    assert error_codes(body) == ["FORBIDDEN"]
    await create(demo, "user1", fullName="Fifty", leadTypeId=type_id,
                 customFields=[{"fieldId": field_id, "value": "50"}])  # fmt: skip
    await create(demo, "user1", fullName="Five", leadTypeId=type_id,
                 customFields=[{"fieldId": field_id, "value": "5"}])  # fmt: skip
    bad = await demo.data(
        CREATE, {"i": {"fullName": "Bad", "leadTypeId": type_id,
                       "customFields": [{"fieldId": field_id, "value": "many"}]}},
        as_user="user1",
    )  # fmt: skip
    assert bad["leadCreate"]["errors"][0]["code"] == "INVALID"
    flt = {"customFields": [{"fieldId": field_id, "eq": "50"}], "leadType": {"eq": type_id}}
    assert await visible_names(demo, "user1", flt) == {"Fifty"}
    delete = await demo.data(
        "mutation($t: ID!) { leadTypeDelete(id: $t) { errors { code } } }", {"t": type_id},
        as_user="manager1",
    )  # fmt: skip
    assert delete["leadTypeDelete"]["errors"] == [{"code": "CONFLICT"}]


# ---------------------------------------------------------------- saved searches


async def test_saved_searches_are_per_user(demo: Api) -> None:
    await create(demo, "user1", fullName="Cheap", estimatedSale="5")
    await create(demo, "user1", fullName="Dear", estimatedSale="5000")
    save = """mutation($n: String!, $f: JSON!) { leadSearchSave(name: $n, filter: $f) {
        savedSearch { id name filter } errors { field code } } }"""
    saved = await demo.data(save, {"n": "Big ones", "f": {"estimatedSale": {"gte": "1000"}}},
                            as_user="user1")  # fmt: skip
    search = saved["leadSearchSave"]["savedSearch"]
    assert search["filter"] == {"estimatedSale": {"gte": "1000"}}
    bad = await demo.data(save, {"n": "Broken", "f": {"progress": {"eq": "x"}}}, as_user="user1")
    assert bad["leadSearchSave"]["errors"][0]["field"] == "filter"
    listed = await demo.data("{ leadSavedSearches { name } }", as_user="user1")
    assert listed["leadSavedSearches"] == [{"name": "Big ones"}]
    data = await demo.data(LIST, {"s": search["id"]}, as_user="user1")
    assert [e["node"]["fullName"] for e in data["leads"]["edges"]] == ["Dear"]
    # another user cannot load it
    body = await demo.gql(LIST, {"s": search["id"]}, as_user="manager1")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    delete = "mutation($id: ID!) { leadSearchDelete(id: $id) { deletedId errors { code } } }"
    other = await demo.data(delete, {"id": search["id"]}, as_user="manager1")
    assert other["leadSearchDelete"]["errors"] == [{"code": "NOT_FOUND"}]
    mine = await demo.data(delete, {"id": search["id"]}, as_user="user1")
    assert mine["leadSearchDelete"]["deletedId"] == search["id"]


# ---------------------------------------------------------------- mass operations


async def test_mass_operations_report_each_lead_and_keep_the_others(demo: Api) -> None:
    leads = await world(demo)
    own = await create(demo, "user1", fullName="Own two")
    mass = """mutation($ids: [ID!]!, $p: Int!) { leadsSetProgress(ids: $ids, progress: $p) {
        succeeded failed results { leadId ok errors { code } } } }"""
    ids = [leads["a"]["id"], leads["b"]["id"], "99999", own["id"]]
    data = (await demo.data(mass, {"ids": ids, "p": 40}, as_user="user1"))["leadsSetProgress"]
    assert (data["succeeded"], data["failed"]) == (2, 2)
    outcome = {r["leadId"]: (r["ok"], [e["code"] for e in r["errors"]]) for r in data["results"]}
    assert outcome == {
        leads["a"]["id"]: (True, []),
        leads["b"]["id"]: (False, ["FORBIDDEN"]),
        "99999": (False, ["NOT_FOUND"]),
        own["id"]: (True, []),
    }
    assert (await Lead.get(id=leads["a"]["id"])).progress == 40
    assert (await Lead.get(id=leads["b"]["id"])).progress == 0
    # an unknown progress code refuses every lead, each on its own
    bad = await demo.data(mass, {"ids": [own["id"]], "p": 41}, as_user="user1")
    assert bad["leadsSetProgress"]["results"][0]["errors"] == [{"code": "INVALID"}]
    tag = await demo.data(
        'mutation { leadTagCreate(input: {name: "VIP", colour: "#00ff00"}) { tag { id } } }',
        as_user="manager1",
    )
    tag_id = tag["leadTagCreate"]["tag"]["id"]
    tags = """mutation($ids: [ID!]!, $a: [ID!]) { leadsChangeTags(ids: $ids, add: $a) {
        succeeded } }"""
    done = await demo.data(tags, {"ids": [leads["a"]["id"], own["id"]], "a": [tag_id]},
                           as_user="user1")  # fmt: skip
    assert done["leadsChangeTags"]["succeeded"] == 2
    assert await visible_names(demo, "user1", {"tags": [tag_id]}) == {"Lead A", "Own two"}
    assign = """mutation($ids: [ID!]!, $o: ID!) { leadsAssignOwner(ids: $ids, ownerId: $o) {
        succeeded } }"""
    manager = str((await demo.data("{ viewer { id } }", as_user="manager1"))["viewer"]["id"])
    moved = await demo.data(assign, {"ids": [own["id"]], "o": manager}, as_user="user1")
    assert moved["leadsAssignOwner"]["succeeded"] == 1
    assert (await Lead.get(id=own["id"])).owner_id == int(manager)
    close = "mutation($ids: [ID!]!) { leadsClose(ids: $ids, progress: 101) { succeeded } }"
    closed = await demo.data(close, {"ids": [leads["a"]["id"]]}, as_user="user1")
    assert closed["leadsClose"]["succeeded"] == 1
    assert (await Lead.get(id=leads["a"]["id"])).progress == 101
    delete = "mutation($ids: [ID!]!) { leadsDelete(ids: $ids) { succeeded } }"
    assert error_codes(await demo.gql(delete, {"ids": [own["id"]]}, as_user="user1")) == [
        "FORBIDDEN"
    ]
    gone = await demo.data(delete, {"ids": [own["id"], leads["b"]["id"]]}, as_user="manager1")
    assert gone["leadsDelete"]["succeeded"] == 2


# ---------------------------------------------------------------- notes, tags, files


async def test_notes_and_files_follow_the_lead_rule(demo: Api) -> None:
    leads = await world(demo)
    note = """mutation($i: LeadActivityInput!) { leadActivityCreate(input: $i) {
        activity { text author { username } } errors { field code } } }"""
    data = await demo.data(note, {"i": {"leadId": leads["a"]["id"], "text": "Called"}},
                           as_user="user1")  # fmt: skip
    assert data["leadActivityCreate"]["activity"] == {
        "text": "Called",
        "author": {"username": "user1"},
    }
    body = await demo.gql(note, {"i": {"leadId": leads["b"]["id"], "text": "x"}}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    # a file on one's own lead; not on another's
    stored = await upload(demo, "user1", leads["a"]["id"], kind="LEAD")
    assert stored["data"]["fileUpload"]["errors"] == []
    refused = await upload(demo, "user1", leads["b"]["id"], kind="LEAD")
    assert error_codes(refused) == ["FORBIDDEN"]
    query = """query($id: ID!) { lead(id: $id) { activities { totalCount }
        files { edges { node { originalName viewerCan { delete } } } } } }"""
    seen = await demo.data(query, {"id": leads["a"]["id"]}, as_user="manager1")
    assert seen["lead"]["activities"]["totalCount"] == 1
    assert seen["lead"]["files"]["edges"] == [
        {"node": {"originalName": "Offer 2024.pdf", "viewerCan": {"delete": True}}}
    ]
    # the file is downloadable only by those who see the lead
    file_id = stored["data"]["fileUpload"]["file"]["id"]
    await make_user("outsider", password="outsider", bits=("LR",))
    demo.tokens["outsider"] = await demo.login("outsider", "outsider")
    body = await demo.gql("query($id: ID!) { file(id: $id) { id } }", {"id": file_id},
                          as_user="outsider")  # fmt: skip
    assert error_codes(body) == ["NOT_FOUND"]


async def test_tags_and_types_are_managed_by_lead_managers(demo: Api) -> None:
    create_tag = """mutation($i: LeadTagInput!) { leadTagCreate(input: $i) {
        tag { name colour } errors { field code } } }"""
    body = await demo.gql(create_tag, {"i": {"name": "Hot"}}, as_user="user1")
    assert error_codes(body) == ["FORBIDDEN"]
    bad = await demo.data(create_tag, {"i": {"name": "", "colour": "red"}}, as_user="manager1")
    assert {e["field"] for e in bad["leadTagCreate"]["errors"]} == {"name", "colour"}
    ok = await demo.data(
        create_tag, {"i": {"name": "Hot", "colour": "#FF0000"}}, as_user="manager1"
    )
    assert ok["leadTagCreate"]["tag"] == {"name": "Hot", "colour": "#ff0000"}
    again = await demo.data(create_tag, {"i": {"name": "Hot"}}, as_user="manager1")
    assert again["leadTagCreate"]["errors"] == [{"field": "name", "code": "UNIQUE"}]
    tags = await demo.data("{ leadTags { name } leadProgressSteps { code name closed } }",
                           as_user="user1")  # fmt: skip
    assert tags["leadTags"] == [{"name": "Hot"}]
    assert [s["code"] for s in tags["leadProgressSteps"]] == [0, 20, 40, 60, 80, 100, 101, 102, 200]


async def test_a_lead_alarm_is_an_event_in_its_owners_calendar(demo: Api) -> None:
    events = """query { calendarEvents(from: "2027-03-01", to: "2027-03-31") {
        title kind startsAt } }"""
    lead = await create(
        demo, "user1", fullName="Alarmed", alarmAt="2027-03-10T09:30:00Z",
        companyId=await company_id("Customer #A"),
    )  # fmt: skip
    mine = (await demo.data(events, as_user="user1"))["calendarEvents"]
    assert [(e["title"], e["kind"]) for e in mine] == [("Lead alarm: Alarmed", "LEAD_ALARM")]
    # moving the alarm moves the event; a new owner gets it; clearing it removes it
    await demo.data(UPDATE, {"i": {"id": lead["id"], "alarmAt": "2027-03-20T08:00:00Z"}},
                    as_user="user1")  # fmt: skip
    (event,) = (await demo.data(events, as_user="user1"))["calendarEvents"]
    assert event["startsAt"].startswith("2027-03-20T08:00:00")
    manager = (await demo.data("{ viewer { id } }", as_user="manager1"))["viewer"]["id"]
    await demo.data(UPDATE, {"i": {"id": lead["id"], "ownerId": manager}}, as_user="user1")
    assert (await demo.data(events, as_user="user1"))["calendarEvents"] == []
    assert len((await demo.data(events, as_user="manager1"))["calendarEvents"]) == 1
    await demo.data(UPDATE, {"i": {"id": lead["id"], "alarmAt": None}}, as_user="manager1")
    assert (await demo.data(events, as_user="manager1"))["calendarEvents"] == []


async def test_a_lead_list_costs_the_same_statements_for_3_or_30_leads(demo: Api) -> None:
    from crm_graphql.services.sqlcount import count_statements

    query = """{ leads(first: 50) { totalCount edges { node {
        fullName progress { name } stale owner { username } company { name }
        leadType { name } tags { name } customFields { value }
        history(first: 2) { totalCount edges { node { kind user { username } } } }
        activities(first: 2) { edges { node { text } } }
        files(first: 2) { edges { node { originalName } } } viewerCan { edit } } } } }"""

    async def statements() -> int:
        await demo.data(query, as_user="user1")  # CRM setup row and caches warm
        with count_statements() as seen:
            await demo.data(query, as_user="user1")
        return len(seen)

    customer_a = await company_id("Customer #A")
    tag = await demo.data(
        'mutation { leadTagCreate(input: {name: "Hot", colour: "#ff0000"}) { tag { id } } }',
        as_user="manager1",
    )
    tag_ids = [tag["leadTagCreate"]["tag"]["id"]]
    for n in range(3):
        await create(demo, "user1", fullName=f"L{n}", companyId=customer_a, tagIds=tag_ids)
    few = await statements()
    for n in range(3, 30):
        lead = await create(demo, "user1", fullName=f"L{n}", companyId=customer_a, tagIds=tag_ids)
        await demo.data(UPDATE, {"i": {"id": lead["id"], "progress": 20}}, as_user="user1")
    assert await statements() == few
