"""A user's access rights, the lead steps and channels, and a lead's mail templates on
the compiled read path (issue 15): `User.permissions` and `User.assignments` (yourself,
or anyone's with UM: another user's without UM is the executor's error), the root lists
computed from CRM setup (`leadProgressSteps`, `leadChannels`, with the model defaults
while there is no setup row) and `leadMailTemplates(leadId:)`. Each answers in one
statement exactly as the executor does for the seven viewers of the differential world;
every refusal is the executor's own."""

from __future__ import annotations

from typing import Any

import pytest

from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead
from crm_graphql.models.mail import MailTemplate
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.permissions.users import SelfOrUserManager, access_rights_q, sees_access_rights
from crm_graphql.services.auth import Viewer, user_bits
from crm_graphql.services.setup import SETUP_ID
from tests.differential import VIEWERS, Differential, compiled_ran, counted, load_corpus

RIGHTS = """{ leads(first: 100, filter: {showFinished: true}) { edges { node { fullName
  owner { username permissions assignments(first: 1) { totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id createdAt profile { name permissions } group { name } } } } }
  } } } }"""


async def _viewer(username: str) -> Viewer:
    user = await User.get(username=username)
    return Viewer(user, await user_bits(user.id), 0, TokenKind.SESSION, TokenScope.FULL)


class _Denied(Exception):
    pass


class _Info:
    """What SelfOrUserManager reads of a resolver's info."""

    def __init__(self, viewer: Viewer) -> None:
        self.field_name = "permissions"
        self.context = self
        self.viewer = viewer

    def deny(self, what: str, why: str) -> Exception:
        return _Denied(what)


async def test_the_sql_form_of_self_or_user_manager_agrees_with_the_rule(
    world: dict[str, str],
) -> None:
    users = await User.all().order_by("id")
    allowed = 0
    for username in VIEWERS:
        viewer = await _viewer(username)
        rule = access_rights_q(viewer)
        for user in users:
            python = sees_access_rights(viewer, user.id)
            try:
                checked = SelfOrUserManager().has_permission(user, _Info(viewer))
            except _Denied:
                checked = False
            sql = rule if isinstance(rule, bool) else await User.filter(rule, id=user.id).exists()
            assert python == checked == sql, (username, user.username)
            allowed += python
    assert 0 < allowed < len(VIEWERS) * len(users)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_access_rights_are_compiled_where_allowed_else_the_executors_error(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    body, statements = await counted(paths, RIGHTS, None, world[viewer])
    if body.get("errors"):
        # Another user's rights without UM (or no lead bits): the executor's refusal.
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes <= {"FORBIDDEN"}, body
        assert viewer != "admin"
        if viewer == "user1":
            # The compiled statement ran, refused a row on purpose, and the executor
            # answered with its error on that field.
            assert compiled_ran(statements), statements
            refused = {e["path"][-1] for e in body["errors"]}
            assert refused <= {"permissions", "assignments"}, body
        return
    assert viewer not in ("user1", "manager1")
    assert len(statements) == 1 and compiled_ran(statements), statements
    owners = [e["node"]["owner"] for e in body["data"]["leads"]["edges"] if e["node"]["owner"]]
    assert owners
    if viewer == "admin":
        assert {"CR", "LR"} <= {bit for o in owners for bit in o["permissions"]}
        assert any(o["assignments"]["edges"] for o in owners)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_your_own_rights_are_compiled(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    # The lead seller sees leads they own: their own rights need no UM.
    query = """query Q($me: String) {
      leads(first: 100, filter: {showFinished: true, owner: {username: {eq: $me}}}) {
      edges { node { owner { username permissions assignments { totalCount
        edges { node { profile { permissions } } } } } } } } }"""
    body, statements = await counted(paths, query, {"me": viewer}, world[viewer])
    if body.get("errors"):  # no lead bits
        assert not compiled_ran(statements)
        return
    assert len(statements) == 1 and compiled_ran(statements), statements


async def test_a_superadmins_rights_are_every_bit(
    paths: Differential, world: dict[str, str]
) -> None:
    seller = await User.get(username="lead_seller")
    await User.filter(id=seller.id).update(is_superadmin=True)
    body, statements = await counted(paths, RIGHTS, None, world["admin"])
    assert compiled_ran(statements)
    rights = [
        e["node"]["owner"]["permissions"]
        for e in body["data"]["leads"]["edges"]
        if (e["node"]["owner"] or {}).get("username") == "lead_seller"
    ]
    assert rights and len(rights[0]) == 11


STEPS = """{ leadProgressSteps { __typename code name closed } leadChannels
  again: leadProgressSteps { name } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_steps_and_channels_come_from_crm_setup(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    for setup in (
        None,
        {"lead_progress_names": {}, "lead_channels": []},
        {"lead_progress_names": {"20": "Met", "40": ""}, "lead_channels": ["Fair", "Ñu"]},
    ):
        await CrmSetup.all().delete()
        if setup is not None:
            await CrmSetup.create(id=SETUP_ID, **setup)
        body, statements = await counted(paths, STEPS, None, world[viewer])
        if body.get("errors"):  # no lead bits: the executor's refusal
            assert not compiled_ran(statements)
            return
        # One statement per root field.
        assert len(statements) == 3 and compiled_ran(statements), statements
        steps = body["data"]["leadProgressSteps"]
        assert [s["code"] for s in steps][:2] == [0, 20]
        if setup and setup["lead_channels"]:
            assert body["data"]["leadChannels"] == ["Fair", "Ñu"]
            assert steps[1]["name"] == "Met"


TEMPLATES = """query T($lead: ID!) { leadMailTemplates(leadId: $lead) {
  __typename id name language subject bodyHtml updatedAt company { name } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_a_leads_mail_templates(
    paths: Differential, world: dict[str, str], viewer: str
) -> None:
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    manager1 = await User.get(username="manager1")
    for company, name, language in (
        (a, "Welcome", "en"),
        (a, "Bienvenida", "es"),
        (a, "Any", ""),
        (b, "Other", ""),
        (None, "Orphan", "en"),
    ):
        await MailTemplate.create(
            company=company, name=name, language=language, subject=f"S {name}", creator=manager1
        )
    await Lead.filter(full_name="Lead 01").update(language="es")
    leads: list[Any] = [str(lead.id) for lead in await Lead.all().order_by("id")]
    found = 0
    for lead in [*leads, "999999", "bogus", "-1"]:
        body, statements = await counted(paths, TEMPLATES, {"lead": lead}, world[viewer])
        if body.get("errors"):  # no lead bits
            assert not compiled_ran(statements)
            continue
        assert len(statements) == 1 and compiled_ran(statements), statements
        found += len(body["data"]["leadMailTemplates"])
    if viewer in ("admin", "manager1"):
        assert found > 0


@pytest.mark.parametrize("name", ["user_rights", "lead_setup_roots"])
async def test_the_corpus_files_run_compiled_for_the_admin(
    paths: Differential, world: dict[str, str], name: str
) -> None:
    (case,) = [c for c in load_corpus() if c.name == name]
    roots = {"user_rights": 2, "lead_setup_roots": 4}[name]
    for variables in case.variables:
        body, statements = await counted(paths, case.query, variables, world["admin"])
        assert "errors" not in body, body
        # One statement per root field.
        assert len(statements) == roots and compiled_ran(statements), (variables, statements)
    if name == "lead_setup_roots":
        assert body["data"]["leadMailTemplates"] == []  # "bogus": the resolver's empty list
