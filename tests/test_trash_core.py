"""The trash's service (issue 18): a record moved to the trash takes every row that hangs
on it out of the database, and a restore puts back exactly the rows that were there
(ids, timestamps and all), re-pointing what a delete had set to NULL. The round trip is
compared on a dump of every table of the models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tortoise import Tortoise

from crm_graphql.errors import ErrorCode
from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.files import FileOwner
from crm_graphql.models.leads import LeadActivity, LeadHistory, LeadHistoryKind
from crm_graphql.models.mail import OutgoingMail
from crm_graphql.models.trash import TrashEntry, TrashType
from crm_graphql.models.users import User
from crm_graphql.services import trash
from crm_graphql.services.audit import json_value
from crm_graphql.services.auth import Viewer
from crm_graphql.services.files import new_stored_name
from crm_graphql.services.mutations import atomic
from tests.factories import (
    Api,
    make_activity,
    make_company,
    make_contact,
    make_contract,
    make_contract_type,
    make_custom_field,
    make_custom_value,
    make_event,
    make_invoice,
    make_lead,
    make_lead_tag,
    make_mail_template,
    make_stored_file,
    make_user,
)

SKIP_TABLES = {
    "audit_log",
    "trash_entries",
    "auth_tokens",
    "login_attempts",
    "events",
    "event_audience",
}


async def dump() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the logs, JSON-ready, ordered by id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for model in Tortoise.apps["crm"].values():
        table = model._meta.db_table
        if table in SKIP_TABLES:
            continue
        rows = await model.all().order_by(model._meta.pk_attr).values()
        out[table] = [{k: json_value(v) for k, v in row.items()} for row in rows]
    return out


async def world() -> dict[str, Any]:
    """A company with a bit of everything hanging on it, a lead, and their neighbours."""
    home = await make_company("Home Ltd", rooted=True)
    manager = await make_user("trash-manager", company=home)
    company = await make_company("Acme Ltd", parent=home, manager=manager, country="ES")
    member = await make_user("acme-member", company=company)
    other = await make_company("Other Ltd", parent=home)
    invoice = await make_invoice(other, bill_id="26/0001", issued_on=date(2026, 3, 1))
    contact = await make_contact(company, "Ann Lee", email="ann@acme.test")
    await make_activity(company, "Called", author=manager)
    await make_activity(company, "Met Ann", contact=contact, author=manager)
    kind = await make_contract_type("Support")
    contract = await make_contract(company, reference="SUP-1", contract_type=kind, owner=manager)
    elsewhere = await make_contract(other, reference="OTHER-1")
    await ContractLink.create(contract=contract, related=elsewhere)
    await ContractLink.create(contract=elsewhere, related=contract)
    await ContractInvoice.create(contract=contract, invoice=invoice)
    for entity, object_id in (
        (CustomFieldEntity.COMPANY, company.id),
        (CustomFieldEntity.CONTACT, contact.id),
    ):
        field = await make_custom_field(entity, f"Size {entity}")
        await make_custom_value(field, object_id, "12")
    typed = await make_custom_field(CustomFieldEntity.CONTRACT, "Level", owner_id=kind.id)
    await make_custom_value(typed, contract.id, "gold")
    for owner_kind, owner_id in (
        (FileOwner.COMPANY, company.id),
        (FileOwner.CONTACT, contact.id),
        (FileOwner.CONTRACT, contract.id),
    ):
        await make_stored_file(
            owner_kind,
            owner_id,
            company_id=company.id,
            uploader=manager,
            stored_name=new_stored_name(),
        )
    await make_mail_template(company=company, name="Hello", language="en")
    tag = await make_lead_tag("Hot")
    lead = await make_lead(
        "Ramon Guy", tags=(tag,), owner=manager, company=company, close_date=date(2026, 5, 1)
    )
    await LeadHistory.create(
        lead=lead, user=manager, kind=LeadHistoryKind.CREATED, description="Created"
    )
    await LeadActivity.create(lead=lead, author=manager, text="First call")
    await make_event(manager, "Alarm", object_type="Lead", object_id=lead.id)
    await make_stored_file(FileOwner.LEAD, lead.id, uploader=manager, stored_name=new_stored_name())
    lead_field = await make_custom_field(CustomFieldEntity.LEAD, "Budget")
    await make_custom_value(lead_field, lead.id, "100")
    await OutgoingMail.create(
        lead=lead,
        sender=manager,
        mail_from="crm@home.test",
        recipients=["x@y.test"],
        content=b"Subject: Hi",
        next_attempt_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    # An update after the rows were made: a restore must keep this timestamp.
    await Company.filter(id=company.id).update(
        last_update=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    return {
        "company": company,
        "contact": contact,
        "contract": contract,
        "lead": lead,
        "member": member,
        "manager": manager,
        "kind": kind,
    }


async def _trash(object_type: TrashType, object_id: int, actor: User) -> list[TrashEntry]:
    entries, errors = await atomic(lambda: trash.move_to_trash(object_type, [object_id], actor))
    assert errors == [] and entries is not None
    return entries


async def _restore(entries: list[TrashEntry], actor: User) -> list[Any]:
    viewer = Viewer(actor, frozenset(), 0, TokenKind.SESSION, TokenScope.FULL)

    async def work() -> list[Any]:
        return await trash.restore(entries, viewer)

    errors, failed = await atomic(work)
    assert failed == []
    return errors or []


@pytest.mark.parametrize("object_type", list(TrashType))
async def test_a_record_comes_back_exactly_as_it_was(demo: Api, object_type: TrashType) -> None:
    rows = await world()
    admin = await User.get(username="admin")
    obj = rows[object_type.value.lower()]
    before = await dump()
    entries = await _trash(object_type, obj.id, admin)
    assert [(e.object_type, e.object_id) for e in entries] == [(object_type, obj.id)]
    during = await dump()
    table = obj._meta.db_table
    assert obj.id not in {row["id"] for row in during[table]}
    if object_type == TrashType.COMPANY:
        assert during["contacts"] == [] and during["activities"] == []
        assert [c["reference"] for c in during["contracts"]] == ["OTHER-1"]
        assert during["contract_links"] == [] and during["contract_invoices"] == []
        assert during["mail_templates"] == []
        # What a delete sets to NULL: the members, the managed leads.
        assert (await User.get(id=rows["member"].id)).company_id is None
    if object_type == TrashType.LEAD:
        assert during["lead_history"] == [] and during["lead_tag_links"] == []
        assert [e for e in during["calendar_events"] if e["object_type"] == "Lead"] == []
        assert (await OutgoingMail.first()).lead_id is None  # type: ignore[union-attr]
    assert len(during["files"]) < len(before["files"])
    assert sum(map(len, during.values())) < sum(map(len, before.values()))
    assert await _restore(entries, admin) == []
    after = await dump()
    if object_type == TrashType.CONTRACT:
        # A restored contract, like a created one, is told in its company's activities
        # (which bumps its last update and last activity): the one change beside the
        # rows coming back.
        told = after["activities"][len(before["activities"]) :]
        assert [a["text"] for a in told] == ["Contract SUP-1 restored."]
        after["activities"] = after["activities"][: len(before["activities"])]
        for companies in (before["companies"], after["companies"]):
            for row in companies:
                for column in ("last_update", "last_activity_at", "last_activity_key"):
                    row.pop(column)
    for table in before:
        assert after[table] == before[table], table
    assert not await TrashEntry.exists()


async def test_restore_refuses_a_name_taken_meanwhile(demo: Api) -> None:
    rows = await world()
    admin = await User.get(username="admin")
    entries = await _trash(TrashType.COMPANY, rows["company"].id, admin)
    await make_company("ACME ltd")  # the name, in other case
    errors = await _restore(entries, admin)
    assert [(e.field, e.code) for e in errors] == [("ids.0", ErrorCode.UNIQUE)]
    assert "name" in errors[0].message
    assert not await Company.filter(id=rows["company"].id).exists()


async def test_restore_refuses_when_the_contract_type_is_gone(demo: Api) -> None:
    rows = await world()
    admin = await User.get(username="admin")
    contract_entries = await _trash(TrashType.CONTRACT, rows["contract"].id, admin)
    await Contract.filter(id__gt=0).delete()  # nothing else refers to the type now
    await rows["kind"].delete()
    errors = await _restore(contract_entries, admin)
    assert [(e.field, e.code) for e in errors] == [("ids.0", ErrorCode.CONFLICT)]
    assert "contract type" in errors[0].message


async def test_a_contact_comes_back_only_with_its_company(demo: Api) -> None:
    rows = await world()
    admin = await User.get(username="admin")
    contact_entries = await _trash(TrashType.CONTACT, rows["contact"].id, admin)
    company_entries = await _trash(TrashType.COMPANY, rows["company"].id, admin)
    errors = await _restore(contact_entries, admin)
    assert [(e.field, e.code) for e in errors] == [("ids.0", ErrorCode.CONFLICT)]
    # Both at once: the company first (the newer deletion), then its contact.
    assert await _restore(contact_entries + company_entries, admin) == []
    assert await Contact.filter(id=rows["contact"].id).exists()


async def test_purge_forgets_entries_and_the_background_purge_takes_old_ones(
    demo: Api,
) -> None:
    rows = await world()
    admin = await User.get(username="admin")
    old = await _trash(TrashType.LEAD, rows["lead"].id, admin)
    recent = await _trash(TrashType.CONTACT, rows["contact"].id, admin)
    await TrashEntry.filter(id=old[0].id).update(deleted_at=datetime.now(UTC) - timedelta(days=31))
    assert await trash.purge_older_than(30) == 1
    assert [e.id for e in await TrashEntry.all()] == [recent[0].id]
    purged, errors = await atomic(lambda: trash.purge(recent, admin))
    assert (purged, errors) == (1, [])
    assert not await TrashEntry.exists()


async def test_ids_of_trashed_rows_are_never_given_to_new_rows(demo: Api) -> None:
    """A restore puts rows back with their ids, so no table may hand a deleted id to a
    new row: SQLite tables need AUTOINCREMENT (PostgreSQL sequences only move forward)."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect != "sqlite":
        company = await make_company("Seq Ltd")
        await company.delete()
        assert (await make_company("Seq 2 Ltd")).id > company.id
        return
    for model in trash.ORDER:
        table = model._meta.db_table
        _, rows = await connection.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        )
        assert "AUTOINCREMENT" in rows[0][0].upper(), table
