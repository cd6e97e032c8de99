"""Merging duplicates (issue 18): every relation of the merged records moves to the
survivor (the foreign keys are read from the models, so a new relation cannot be
forgotten), the others are gone, the audit log and the lead history say so; access
refusals and bad input are payload errors naming the field, and nothing moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.expressions import Subquery
from tortoise.models import Model

from crm_graphql.models.activities import Activity
from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.calendar import CalendarEvent, CalendarEventKind
from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldValue
from crm_graphql.models.events import Event
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.leads import Lead, LeadActivity, LeadHistory, LeadHistoryKind
from crm_graphql.models.mail import InboundMail, InboundState, OutgoingMail
from crm_graphql.models.users import User
from crm_graphql.services.duplicates import DuplicateEntity
from crm_graphql.services.merges import RELATIONS
from tests.factories import (
    Api,
    error_codes,
    make_activity,
    make_billing,
    make_company,
    make_contact,
    make_contract,
    make_custom_field,
    make_custom_value,
    make_event,
    make_invoice,
    make_lead,
    make_lead_tag,
    make_lead_type,
    make_mail_template,
    make_stored_file,
    make_user,
)

# Plain id columns (no foreign key) that point at a company, contact or lead, read
# with their kind column; each merge moves them.
PLAIN_REFERENCES = {
    (StoredFile, "owner_id"),
    (StoredFile, "company_id"),
    (CustomFieldValue, "object_id"),
    (CalendarEvent, "object_id"),
}
# Plain `*_id` columns that are not references to a merged record, and why.
NOT_REFERENCES = {
    ("Company", "fiscal_id"): "a tax number",
    ("AuditEntry", "user_id"): "the log keeps who did what",
    ("AuditEntry", "object_id"): "the log keeps what happened to which record",
    ("AuditEntry", "request_id"): "a request",
    ("CustomField", "owner_id"): "a contract or lead type",
    ("Contract", "sla_id"): "an external code",
    ("Contract", "group_id"): "an external code",
    ("Invoice", "bill_id"): "an invoice number",
    ("CrmSetup", "invoice_logo_file_id"): "a file",
    ("InboundMail", "message_id"): "a mail header",
    ("OutgoingMail", "message_id"): "a mail header",
    # A trash entry keeps its record as it was deleted: restoring a contact of a company
    # merged away needs that company back first, and the restore says so.
    ("TrashEntry", "object_id"): "the trashed record itself",
    ("TrashEntry", "company_id"): "the trashed record's company, as it was",
    ("TrashEntry", "owner_id"): "a user",
    # The event log is history: what happened to which record, as it was.
    ("Event", "object_id"): "the record an event is about",
    ("Event", "actor_id"): "a user",
    ("Event", "company_id"): "the company of the record then",
    ("EventAudience", "event_id"): "an event",
    ("EventAudience", "user_id"): "a user",
    ("WebhookDelivery", "event_id"): "an event",
}

MERGED: dict[DuplicateEntity, type[Model]] = {
    DuplicateEntity.COMPANY: Company,
    DuplicateEntity.CONTACT: Contact,
    DuplicateEntity.LEAD: Lead,
}

COMPANY_MERGE = """mutation($input: MergeInput!) {
  companyMerge(input: $input) { company { id name website } errors { field code message } } }"""
CONTACT_MERGE = """mutation($input: MergeInput!) {
  contactMerge(input: $input) { contact { id fullName email } errors { field code message } } }"""
LEAD_MERGE = """mutation($input: MergeInput!) {
  leadMerge(input: $input) { lead { id fullName email } errors { field code message } } }"""

TRASH = """query { trash(first: 50) { edges { node { id type objectId } } } }"""
RESTORE = """mutation($ids: [ID!]!) { restore(ids: $ids) { errors { field code message } } }"""
COMPANY_READ = """query($id: ID!) { company(id: $id) {
  id name contracts(first: 50) { edges { node { id } } }
  children(first: 50) { edges { node { id } } }
  contacts(first: 50) { edges { node { id } } }
  activities(first: 50) { edges { node { id } } }
  invoices(first: 50) { edges { node { id } } }
  files(first: 50) { edges { node { id } } }
  customFields { field { id } value }
  billing { currency amount }
} }"""
CONTACT_READ = """query($id: ID!) { contact(id: $id) {
  id fullName email activities(first: 50) { edges { node { id } } }
  files(first: 50) { edges { node { id } } } customFields { field { id } value }
} }"""
LEAD_READ = """query($id: ID!) { lead(id: $id) {
  id fullName email tags { name }
  history(first: 50) { edges { node { id } } }
  activities(first: 50) { edges { node { id } } }
  files(first: 50) { edges { node { id } } } customFields { field { id } value }
} }"""


def foreign_keys(target: type[Model]) -> list[tuple[type[Model], str]]:
    """(model, column) of every foreign key of the models that points at `target`."""
    found = []
    for model in Tortoise.apps["crm"].values():
        meta = model._meta
        for name in sorted(meta.fk_fields | meta.o2o_fields):
            field: Any = meta.fields_map[name]
            if field.related_model is target:
                found.append((model, field.source_field))
        for name in meta.m2m_fields:
            field = meta.fields_map[name]
            assert field.related_model is not target, f"{model.__name__}.{name}: add it to merges"
    return found


def test_every_relation_of_the_models_is_moved_by_merge() -> None:
    """The merge's list of relations covers every foreign key pointing at a merged
    table, and every plain id column is either a reference it moves or listed here as
    something else."""
    for entity, target in MERGED.items():
        moved = {(m.__name__, c) for m, c in RELATIONS[entity]}
        for model, column in foreign_keys(target):
            assert (model.__name__, column) in moved, f"{entity}: {model.__name__}.{column}"
    plain = {(m.__name__, c) for m, c in PLAIN_REFERENCES}
    for model in Tortoise.apps["crm"].values():
        meta = model._meta
        sources = {meta.fields_map[n].source_field for n in meta.fk_fields | meta.o2o_fields}
        for name, field in meta.fields_map.items():
            if name.endswith("_id") and name not in sources and not field.pk:
                key = (model.__name__, name)
                assert key in plain or key in NOT_REFERENCES, f"{key}: a reference to merge?"


async def _pointing(entity: DuplicateEntity, ids: list[int]) -> dict[str, dict[int, int]]:
    """Rows per id of every foreign key at the merged table, and of the plain
    references of that kind."""
    kind = {
        DuplicateEntity.COMPANY: FileOwner.COMPANY,
        DuplicateEntity.CONTACT: FileOwner.CONTACT,
        DuplicateEntity.LEAD: FileOwner.LEAD,
    }[entity]
    noun = MERGED[entity].__name__
    fields = Subquery(CustomField.filter(entity=CustomFieldEntity(kind.value)).values("id"))
    queries: dict[str, Any] = {
        f"{m.__name__}.{c}": (m.all(), c) for m, c in foreign_keys(MERGED[entity])
    }
    queries["StoredFile.owner_id"] = (StoredFile.filter(owner_kind=kind), "owner_id")
    queries["CustomFieldValue.object_id"] = (
        CustomFieldValue.filter(field_id__in=fields),
        "object_id",
    )
    queries["CalendarEvent.object_id"] = (CalendarEvent.filter(object_type=noun), "object_id")
    if entity == DuplicateEntity.COMPANY:
        queries["StoredFile.company_id"] = (StoredFile.all(), "company_id")
    counts: dict[str, dict[int, int]] = {}
    for name, (queryset, column) in queries.items():
        counts[name] = {i: await queryset.filter(**{column: i}).count() for i in ids}
    return counts


def _ids(read: dict[str, Any], name: str) -> set[str]:
    return {e["node"]["id"] for e in read[name]["edges"]}


def _assert_moved(
    before: dict[str, dict[int, int]],
    after: dict[str, dict[int, int]],
    survivor: int,
    others: list[int],
    merged_rows: dict[str, int],
) -> None:
    """Every relation had rows on the others (so the test covers it), has none left
    there, and the survivor has them all (less `merged_rows` folded into its own)."""
    for name, per_id in before.items():
        assert sum(per_id[o] for o in others) > 0, f"{name}: give the test data a row"
        assert all(after[name][o] == 0 for o in others), f"{name} was not moved"
        expected = sum(per_id.values()) - merged_rows.get(name, 0)
        assert after[name][survivor] == expected, name


async def _company_world() -> tuple[Company, list[Company]]:
    home = await Company.get(name="My company")
    manager1 = await User.get(username="manager1")
    size = await make_custom_field(CustomFieldEntity.COMPANY, "Size")
    sector = await make_custom_field(CustomFieldEntity.COMPANY, "Sector")
    survivor = await make_company("Acme", parent=home, manager=manager1, website="acme.com")
    await make_custom_value(size, survivor.id, "big")
    await make_billing(survivor, 1000, "EUR")
    await make_contact(survivor, "Sam", email="sam@acme.com")
    others = []
    for n, name in enumerate(("ACME S.A.", "Acme Iberia")):
        other = await make_company(name, parent=home, manager=manager1, website=f"acme{n}.es")
        contact = await make_contact(other, f"Person {n}", email=f"p{n}@acme.com")
        await make_contract(other, f"Contract {n}")
        await make_invoice(other)
        await make_activity(other, f"Called {n}")
        await make_lead(f"Lead {n}", company=other)
        await make_user(f"member{n}", company=other)
        await make_mail_template(f"Template {n}", company=other)
        await make_company(f"Child {n}", parent=other, manager=manager1)
        await make_billing(other, 100 + n, "EUR" if n == 0 else "USD")
        await make_stored_file(FileOwner.COMPANY, other.id, company_id=other.id)
        await make_stored_file(FileOwner.CONTACT, contact.id, company_id=other.id)
        await make_custom_value(size, other.id, "small")
        await make_custom_value(sector, other.id, f"sector {n}")
        await make_event(manager1, "About it", object_type="Company", object_id=other.id)
        others.append(other)
    return survivor, others


async def test_company_merge_moves_every_relation(demo: Api) -> None:
    survivor, others = await _company_world()
    ids = [survivor.id, *(o.id for o in others)]
    before = await _pointing(DuplicateEntity.COMPANY, ids)
    reads = [
        (await demo.data(COMPANY_READ, {"id": str(i)}, as_user="manager1"))["company"] for i in ids
    ]
    result = (
        await demo.data(
            COMPANY_MERGE,
            {
                "input": {
                    "survivorId": str(survivor.id),
                    "otherIds": [str(o.id) for o in others],
                    "fields": [
                        {"field": "website", "fromId": str(others[1].id)},
                        {"field": "name", "value": "Acme Group"},
                    ],
                }
            },
            as_user="manager1",
        )
    )["companyMerge"]
    assert result["errors"] == []
    company = result["company"]
    assert company == {"id": str(survivor.id), "name": "Acme Group", "website": "acme1.es"}
    after = await _pointing(DuplicateEntity.COMPANY, ids)
    # The survivor's size wins over the others' ("small" twice), the first other's sector
    # over the second's; EUR billings add up.
    _assert_moved(
        before,
        after,
        survivor.id,
        [o.id for o in others],
        # manager1 had an event about each other: one moves, the second stays in the
        # calendar about no object (one event per owner, kind and object).
        {
            "CustomFieldValue.object_id": 3,
            "CompanyBilling.company_id": 1,
            "CalendarEvent.object_id": 1,
        },
    )
    assert await CalendarEvent.filter(object_type="", object_id=None).count() == 1
    read = (await demo.data(COMPANY_READ, {"id": str(survivor.id)}, as_user="manager1"))["company"]
    for name in ("contracts", "children", "contacts", "activities", "invoices", "files"):
        assert _ids(read, name) == set().union(*(_ids(r, name) for r in reads)), name
    assert {(c["field"]["id"], c["value"]) for c in read["customFields"]} == {
        (str((await CustomField.get(name="Size")).id), "big"),
        (str((await CustomField.get(name="Sector")).id), "sector 0"),
    }
    assert await CompanyBilling.filter(company_id=survivor.id).order_by("currency").values_list(
        "currency", "cents"
    ) == [("EUR", 1100), ("USD", 101)]
    # Moved children hang under the survivor in the tree (their path too).
    for child in await Company.filter(name__startswith="Child"):
        assert child.path == f"{survivor.path}{child.id}/"
    # The others are gone; the audit log keeps them and the merge.
    for other in others:
        gone = await demo.gql(COMPANY_READ, {"id": str(other.id)}, as_user="manager1")
        assert error_codes(gone) == ["NOT_FOUND"]
        entry = await AuditEntry.get(
            object_type="Company", object_id=str(other.id), action="DELETE"
        )
        assert entry.changes["merged_into"] == survivor.id
    # They are in the trash, and one restored comes back with its id, emptied.
    trashed = (await demo.data(TRASH, as_user="manager1"))["trash"]["edges"]
    entries = {e["node"]["objectId"]: e["node"] for e in trashed}
    assert {i: entries[str(i)]["type"] for i in [o.id for o in others]} == {
        others[0].id: "COMPANY",
        others[1].id: "COMPANY",
    }
    restored = (
        await demo.data(RESTORE, {"ids": [entries[str(others[0].id)]["id"]]}, as_user="manager1")
    )["restore"]
    assert restored["errors"] == [], restored
    back = (await demo.data(COMPANY_READ, {"id": str(others[0].id)}, as_user="manager1"))["company"]
    assert back["name"] == "ACME S.A." and back["contacts"]["edges"] == []
    merge_entry = await AuditEntry.filter(
        object_type="Company", object_id=str(survivor.id), action="UPDATE"
    ).first()
    assert merge_entry is not None
    assert merge_entry.changes["merged"] == [o.id for o in others]
    assert merge_entry.changes["name"] == ["Acme", "Acme Group"]
    # The event log: the survivor changed, the others deleted, moved contacts updated.
    survivor_event = await Event.filter(
        object_type="COMPANY", object_id=survivor.id, action="UPDATE"
    ).first()
    assert survivor_event is not None
    assert survivor_event.changes["merged"] == [None, [o.id for o in others]]
    assert survivor_event.changes["name"] == ["Acme", "Acme Group"]
    deleted = await Event.filter(object_type="COMPANY", action="DELETE").values_list(
        "object_id", flat=True
    )
    assert sorted(deleted) == sorted(o.id for o in others)
    moved_contacts = await Event.filter(object_type="CONTACT", action="UPDATE").values_list(
        "changes", flat=True
    )
    assert sorted(c["companyId"][0] for c in moved_contacts) == sorted(o.id for o in others)


async def _snapshot() -> dict[str, int]:
    return {
        m.__name__: await m.all().count()
        for m in (Company, Contact, Lead, Activity, StoredFile, CustomFieldValue, LeadHistory)
    }


async def test_company_merge_refusals_change_nothing(demo: Api) -> None:
    survivor, others = await _company_world()
    admin = await User.get(username="admin")
    hidden = await make_company("Hidden Acme", manager=admin, rooted=True)
    contact = await make_contact(survivor, "High id", email="high@acme.com", id=50_000)
    start = await _snapshot()
    s, o = str(survivor.id), str(others[0].id)

    async def refused(input: dict[str, Any], as_user: str = "manager1") -> list[tuple]:
        payload = (await demo.data(COMPANY_MERGE, {"input": input}, as_user=as_user))[
            "companyMerge"
        ]
        assert payload["company"] is None
        return [(e["field"], e["code"]) for e in payload["errors"]]

    assert await refused({"survivorId": s, "otherIds": [s]}) == [("otherIds[0]", "INVALID")]
    assert await refused({"survivorId": s, "otherIds": [o, o]}) == [("otherIds[1]", "INVALID")]
    assert await refused({"survivorId": s, "otherIds": []}) == [("otherIds", "REQUIRED")]
    # A record of another type: a contact's id names no company.
    assert await refused({"survivorId": s, "otherIds": [str(contact.id)]}) == [
        ("otherIds[0]", "NOT_FOUND")
    ]
    ten = [str(i) for i in range(1000, 1010)]
    assert await refused({"survivorId": s, "otherIds": ten}) == [("otherIds", "TOO_LARGE")]
    # Not visible: the same NOT_FOUND as missing.
    assert await refused({"survivorId": s, "otherIds": [str(hidden.id)]}) == [
        ("otherIds[0]", "NOT_FOUND")
    ]
    assert await refused({"survivorId": str(hidden.id), "otherIds": [o]}) == [
        ("survivorId", "NOT_FOUND")
    ]
    # A choice naming a record outside the merge, or a field that does not exist.
    assert await refused(
        {"survivorId": s, "otherIds": [o], "fields": [{"field": "name", "fromId": str(hidden.id)}]}
    ) == [("fields[0].fromId", "INVALID")]
    assert await refused(
        {"survivorId": s, "otherIds": [o], "fields": [{"field": "nope", "value": "x"}]}
    ) == [("fields[0].field", "INVALID")]
    assert await refused(
        {"survivorId": s, "otherIds": [o], "fields": [{"field": "managerId", "value": "1"}]}
    ) == [("fields[0].value", "INVALID")]
    # A survivor under one of the others.
    child = await Company.get(name="Child 0")
    assert await refused({"survivorId": str(child.id), "otherIds": [o]}) == [
        ("otherIds[0]", "INVALID")
    ]
    # Two contacts that would share an e-mail in the survivor.
    await make_contact(others[1], "Sam again", email="SAM@acme.com")
    conflict = await refused({"survivorId": s, "otherIds": [str(others[1].id)]})
    assert conflict == [("otherIds", "CONFLICT")]
    # Without CM, no company merge at all.
    body = await demo.gql(
        COMPANY_MERGE, {"input": {"survivorId": s, "otherIds": [o]}}, as_user="user1"
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await _snapshot() == {**start, "Contact": start["Contact"] + 1}
    assert await Company.filter(id__in=[o.id for o in others]).count() == 2


async def test_contact_merge_moves_every_relation(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    user1 = await User.get(username="user1")
    phone = await make_custom_field(CustomFieldEntity.CONTACT, "Extension")
    survivor = await make_contact(a, "Ann Lee", email="ann@a.com")
    others = [
        await make_contact(a, "Ann L.", email="ann.lee@a.com"),
        await make_contact(b, "A. Lee", email="ann@b.com"),
    ]
    for n, other in enumerate(others):
        await make_activity(other.company, f"Met {n}", contact=other)
        await make_stored_file(FileOwner.CONTACT, other.id, company_id=other.company_id)
        await make_custom_value(phone, other.id, f"10{n}")
        await make_event(user1, "Call back", object_type="Contact", object_id=other.id)
    ids = [survivor.id, *(o.id for o in others)]
    before = await _pointing(DuplicateEntity.CONTACT, ids)
    reads = [
        (await demo.data(CONTACT_READ, {"id": str(i)}, as_user="manager1"))["contact"] for i in ids
    ]
    result = (
        await demo.data(
            CONTACT_MERGE,
            {
                "input": {
                    "survivorId": str(survivor.id),
                    "otherIds": [str(o.id) for o in others],
                    "fields": [
                        # Taken from a record of the same company, removed by the merge.
                        {"field": "email", "fromId": str(others[0].id)},
                        {"field": "fullName", "value": "Ann Lee-Smith"},
                    ],
                }
            },
            as_user="manager1",
        )
    )["contactMerge"]
    assert result == {
        "contact": {"id": str(survivor.id), "fullName": "Ann Lee-Smith", "email": "ann.lee@a.com"},
        "errors": [],
    }
    after = await _pointing(DuplicateEntity.CONTACT, ids)
    # One value per field (the first other's), one event per owner and object.
    merged = {"CustomFieldValue.object_id": 1, "CalendarEvent.object_id": 1}
    _assert_moved(before, after, survivor.id, [o.id for o in others], merged)
    read = (await demo.data(CONTACT_READ, {"id": str(survivor.id)}, as_user="manager1"))["contact"]
    for name in ("activities", "files"):
        assert _ids(read, name) == set().union(*(_ids(r, name) for r in reads)), name
    assert [c["value"] for c in read["customFields"]] == ["100"]
    # The activities and files now sit with the survivor's company.
    moved = Activity.filter(contact_id=survivor.id)
    assert set(await moved.values_list("company_id", flat=True)) == {a.id}
    assert await Contact.filter(id__in=[o.id for o in others]).count() == 0


async def test_contact_merge_refusals(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    mine = await make_contact(a, "Ann", email="ann@a.com")
    other = await make_contact(a, "Ann 2", email="ann2@a.com")
    at_b = await make_contact(b, "Ann B", email="ann@b.com")
    start = await _snapshot()

    async def refused(input: dict[str, Any], as_user: str) -> list[tuple]:
        payload = (await demo.data(CONTACT_MERGE, {"input": input}, as_user=as_user))[
            "contactMerge"
        ]
        assert payload["contact"] is None
        return [(e["field"], e["code"]) for e in payload["errors"]]

    # user1 manages Customer #A and sees Customer #B, but may not edit it.
    assert await refused({"survivorId": str(at_b.id), "otherIds": [str(mine.id)]}, "user1") == [
        ("survivorId", "FORBIDDEN")
    ]
    assert await refused(
        {"survivorId": str(mine.id), "otherIds": [str(other.id), str(at_b.id)]}, "user1"
    ) == [("otherIds[1]", "FORBIDDEN")]
    # An e-mail value that is not one.
    assert await refused(
        {
            "survivorId": str(mine.id),
            "otherIds": [str(other.id)],
            "fields": [{"field": "email", "value": "nope"}],
        },
        "user1",
    ) == [("fields[0].value", "INVALID")]
    # user2 has no CRM bits: the field is refused.
    body = await demo.gql(
        CONTACT_MERGE,
        {"input": {"survivorId": str(mine.id), "otherIds": [str(other.id)]}},
        as_user="user2",
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await _snapshot() == start
    denial = await AuditEntry.filter(action="DENIED").values_list("changes", flat=True)
    assert any("merge" in str(d) for d in denial)


async def test_lead_merge_moves_every_relation(demo: Api) -> None:
    user1 = await User.get(username="user1")
    hot, cold = await make_lead_tag("Hot"), await make_lead_tag("Cold")
    inbound = await make_lead_type("Inbound")
    budget = await make_custom_field(CustomFieldEntity.LEAD, "Budget", owner_id=inbound.id)
    alarm = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    survivor = await make_lead(
        "Zoe", email="zoe@x.org", owner=user1, tags=(hot,), lead_type=inbound
    )
    others = [
        await make_lead("Zoe B", email="ZOE@x.org", owner=user1, tags=(hot, cold), alarm_at=alarm),
        await make_lead("Zoe C", phone="600 112 233", owner=user1, tags=(cold,)),
    ]
    for n, other in enumerate(others):
        await LeadHistory.create(lead=other, kind=LeadHistoryKind.CREATED, description="Created")
        await LeadActivity.create(lead=other, text=f"Note {n}")
        await OutgoingMail.create(
            lead=other, mail_from="a@x.org", content=b"x", next_attempt_at=datetime.now(UTC)
        )
        await InboundMail.create(lead=other, uidvalidity=1, uid=n, state=InboundState.FILED)
        await make_stored_file(FileOwner.LEAD, other.id)
        await make_custom_value(budget, other.id, f"{n}00")
        await make_event(user1, "Meet", object_type="Lead", object_id=other.id)
    await make_event(
        user1,
        "Lead alarm",
        object_type="Lead",
        object_id=others[0].id,
        kind=CalendarEventKind.LEAD_ALARM,
        starts_at=alarm,
    )
    ids = [survivor.id, *(o.id for o in others)]
    before = await _pointing(DuplicateEntity.LEAD, ids)
    reads = [(await demo.data(LEAD_READ, {"id": str(i)}, as_user="user1"))["lead"] for i in ids]
    result = (
        await demo.data(
            LEAD_MERGE,
            {
                "input": {
                    "survivorId": str(survivor.id),
                    "otherIds": [str(o.id) for o in others],
                    "fields": [
                        {"field": "phone", "fromId": str(others[1].id)},
                        {"field": "alarmAt", "fromId": str(others[0].id)},
                        {"customFieldId": str(budget.id), "fromId": str(others[1].id)},
                    ],
                }
            },
            as_user="user1",
        )
    )["leadMerge"]
    assert result["errors"] == []
    after = await _pointing(DuplicateEntity.LEAD, ids)
    # "Hot" and "cold" links fold into one each; one budget value is kept; the merge
    # adds a history line; user1's second "Meet" stays about no object, and the other's
    # alarm is replaced by the survivor's own (it took the alarm time).
    _assert_moved(
        before,
        after,
        survivor.id,
        [o.id for o in others],
        {
            "LeadTagLink.lead_id": 2,
            "CustomFieldValue.object_id": 1,
            "LeadHistory.lead_id": -1,
            "CalendarEvent.object_id": 1,
        },
    )
    read = (await demo.data(LEAD_READ, {"id": str(survivor.id)}, as_user="user1"))["lead"]
    for name in ("activities", "files"):
        assert _ids(read, name) == set().union(*(_ids(r, name) for r in reads)), name
    assert _ids(read, "history") > set().union(*(_ids(r, "history") for r in reads))
    assert sorted(t["name"] for t in read["tags"]) == ["Cold", "Hot"]
    assert [c["value"] for c in read["customFields"]] == ["100"]
    fresh = await Lead.get(id=survivor.id)
    assert (fresh.phone, fresh.phone_key, fresh.alarm_at) == ("600 112 233", "600112233", alarm)
    alarms = await CalendarEvent.filter(kind=CalendarEventKind.LEAD_ALARM).values_list(
        "object_id", "starts_at"
    )
    assert alarms == [(survivor.id, alarm)]
    line = await LeadHistory.filter(lead_id=survivor.id).order_by("-id").first()
    assert line is not None and line.description == (
        f"Merged leads #{others[0].id}, #{others[1].id} into this one"
    )
    assert await OutgoingMail.filter(lead_id=survivor.id).count() == 2
    assert await Lead.filter(id__in=[o.id for o in others]).count() == 0


async def test_lead_merge_refusals(demo: Api) -> None:
    user1 = await User.get(username="user1")
    admin = await User.get(username="admin")
    mine = await make_lead("Mine", owner=user1)
    also = await make_lead("Also mine", owner=user1)
    pool = await make_lead("Pool")  # unowned: visible to lead users, not theirs to edit
    hidden = await make_lead("Hidden", owner=admin)
    start = await _snapshot()

    async def refused(input: dict[str, Any]) -> list[tuple]:
        payload = (await demo.data(LEAD_MERGE, {"input": input}, as_user="user1"))["leadMerge"]
        assert payload["lead"] is None
        return [(e["field"], e["code"]) for e in payload["errors"]]

    assert await refused({"survivorId": str(pool.id), "otherIds": [str(mine.id)]}) == [
        ("survivorId", "FORBIDDEN")
    ]
    assert await refused({"survivorId": str(mine.id), "otherIds": [str(hidden.id)]}) == [
        ("otherIds[0]", "NOT_FOUND")
    ]
    assert await refused({"survivorId": "x", "otherIds": [str(mine.id)]}) == [
        ("survivorId", "INVALID")
    ]
    assert await refused(
        {
            "survivorId": str(mine.id),
            "otherIds": [str(also.id)],
            "fields": [{"field": "progress", "fromId": str(also.id), "value": "1"}],
        }
    ) == [("fields[0]", "INVALID")]
    assert await _snapshot() == start
