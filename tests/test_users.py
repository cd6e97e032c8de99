"""User, profile, group and assignment management: UM required, payload errors that
name the field and write nothing, optimistic concurrency, superadmin protection, audit."""

from __future__ import annotations

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.users import Assignment, Profile, User
from crm_graphql.services.passwords import verify_password
from tests.factories import Api, error_codes, make_user

USER_CREATE = """mutation($input: UserCreateInput!) {
  userCreate(input: $input) {
    user { id username realName email mode isSuperadmin company { name } version permissions }
    errors { field code message }
  }
}"""
USER_UPDATE = """mutation($input: UserUpdateInput!) {
  userUpdate(input: $input) {
    user { id realName email version isSuperadmin } errors { field code message }
  }
}"""


async def _admin(api: Api, name: str = "um", *, superadmin: bool = False) -> str:
    await make_user(name, password=f"{name}-secret", bits=("UM",), superadmin=superadmin)
    api.tokens[name] = await api.login(name, f"{name}-secret")
    return name


async def test_user_management_needs_um(api: Api) -> None:
    await make_user("plain", password="plain-secret", profile="CRM manager")
    api.tokens["plain"] = await api.login("plain", "plain-secret")
    for query, variables in (
        ("{ users { totalCount } }", None),
        ('{ user(id: "1") { username } }', None),
        ("{ profiles { name } }", None),
        (USER_CREATE, {"input": {"username": "x", "password": "long-enough"}}),
    ):
        body = await api.gql(query, variables, as_user="plain")
        assert error_codes(body) == ["FORBIDDEN"], body
    assert not await User.filter(username="x").exists()


async def test_create_user_and_log_in(demo: Api) -> None:
    await _admin(demo)
    result = (
        await demo.data(
            USER_CREATE,
            {
                "input": {
                    "username": "newbie",
                    "password": "newbie-password",
                    "realName": "New Bie",
                    "email": "newbie@example.com",
                    "mode": "STANDALONE",
                    "companyId": str((await User.get(username="user2")).company_id),
                }
            },
            as_user="um",
        )
    )["userCreate"]
    assert result["errors"] == []
    # The creator (UM without CR) may not see companies: the link is there, hidden.
    assert result["user"]["company"] is None
    assert result["user"]["mode"] == "STANDALONE"
    assert result["user"]["permissions"] == []
    stored = await User.get(username="newbie")
    assert stored.company_id == (await User.get(username="user2")).company_id
    assert stored.password_hash != "newbie-password"
    assert verify_password(stored.password_hash, "newbie-password")
    assert await demo.login("newbie", "newbie-password")
    entry = await AuditEntry.get(action="CREATE", object_type="User", object_id=str(stored.id))
    assert entry.username == "um"
    assert entry.changes["username"] == "newbie"
    assert "password_hash" not in entry.changes


async def test_create_user_reports_every_bad_field_and_writes_nothing(api: Api) -> None:
    await _admin(api)
    await make_user("taken")
    before = await User.all().count()
    result = (
        await api.data(
            USER_CREATE,
            {
                "input": {
                    "username": "taken",
                    "password": "short",
                    "email": "not-an-email",
                    "language": "english!",
                }
            },
            as_user="um",
        )
    )["userCreate"]
    assert result["user"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("username", "UNIQUE"),
        ("password", "INVALID"),
        ("email", "INVALID"),
        ("language", "INVALID"),
    }
    assert await User.all().count() == before
    assert not await AuditEntry.filter(action="CREATE").exists()


async def test_unknown_company_is_a_payload_error(api: Api) -> None:
    await _admin(api)
    result = (
        await api.data(
            USER_CREATE,
            {"input": {"username": "lost", "password": "long-enough", "companyId": "999"}},
            as_user="um",
        )
    )["userCreate"]
    assert result["errors"] == [
        {"field": "companyId", "code": "NOT_FOUND", "message": "No company with id 999."}
    ]
    assert not await User.filter(username="lost").exists()


async def test_update_with_version_and_audit_diff(api: Api) -> None:
    await _admin(api)
    target = await make_user("target", real_name="Old Name")
    ok = (
        await api.data(
            USER_UPDATE,
            {"input": {"id": str(target.id), "version": 1, "realName": "New Name"}},
            as_user="um",
        )
    )["userUpdate"]
    assert ok["errors"] == []
    assert ok["user"]["realName"] == "New Name" and ok["user"]["version"] == 2
    entry = await AuditEntry.get(action="UPDATE", object_id=str(target.id))
    assert entry.changes["real_name"] == ["Old Name", "New Name"]
    assert entry.changes["version"] == [1, 2]

    stale = (
        await api.data(
            USER_UPDATE,
            {"input": {"id": str(target.id), "version": 1, "realName": "Lost Update"}},
            as_user="um",
        )
    )["userUpdate"]
    assert stale["user"] is None
    assert stale["errors"][0]["field"] == "version" and stale["errors"][0]["code"] == "STALE"
    assert (await User.get(id=target.id)).real_name == "New Name"


async def test_only_superadmins_grant_or_touch_superadmin(api: Api) -> None:
    await _admin(api)
    await _admin(api, "root", superadmin=True)
    plain = await make_user("plain")
    boss = await make_user("boss", superadmin=True)

    escalate = (
        await api.data(
            USER_UPDATE, {"input": {"id": str(plain.id), "isSuperadmin": True}}, as_user="um"
        )
    )["userUpdate"]
    assert escalate["errors"][0]["field"] == "isSuperadmin"
    assert escalate["errors"][0]["code"] == "FORBIDDEN"
    assert not (await User.get(id=plain.id)).is_superadmin

    body = await api.gql(
        USER_UPDATE, {"input": {"id": str(boss.id), "realName": "hijack"}}, as_user="um"
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await User.get(id=boss.id)).real_name == ""
    assert await AuditEntry.filter(action="DENIED", username="um").exists()

    granted = (
        await api.data(
            USER_UPDATE, {"input": {"id": str(plain.id), "isSuperadmin": True}}, as_user="root"
        )
    )["userUpdate"]
    assert granted["errors"] == [] and granted["user"]["isSuperadmin"] is True


async def test_delete_user_not_self(api: Api) -> None:
    await _admin(api)
    victim = await make_user("victim")
    me = await User.get(username="um")
    delete = "mutation($id: ID!) { userDelete(id: $id) { deletedId errors { field code } } }"
    self_delete = (await api.data(delete, {"id": str(me.id)}, as_user="um"))["userDelete"]
    assert self_delete == {"deletedId": None, "errors": [{"field": "id", "code": "CONFLICT"}]}
    gone = (await api.data(delete, {"id": str(victim.id)}, as_user="um"))["userDelete"]
    assert gone == {"deletedId": str(victim.id), "errors": []}
    assert not await User.filter(id=victim.id).exists()
    missing = await api.gql(delete, {"id": "424242"}, as_user="um")
    assert missing["data"]["userDelete"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]


async def test_profiles_and_assignments_drive_effective_bits(api: Api) -> None:
    await _admin(api)
    worker = await make_user("worker", password="worker-secret")
    worker_token = await api.login("worker", "worker-secret")
    created = (
        await api.data(
            """mutation { profileCreate(input: {name: "Invoicer", permissions: [IR, IW]}) {
                 profile { id name permissions } errors { code } } }""",
            as_user="um",
        )
    )["profileCreate"]
    assert created["profile"]["permissions"] == ["IR", "IW"]
    duplicate = (
        await api.data(
            'mutation { profileCreate(input: {name: "Invoicer"}) { errors { field code } } }',
            as_user="um",
        )
    )["profileCreate"]
    assert duplicate["errors"] == [{"field": "name", "code": "UNIQUE"}]

    assigned = (
        await api.data(
            """mutation($u: ID!, $p: ID!) { assignmentCreate(input: {userId: $u, profileId: $p}) {
                 assignment { id group { name } profile { name } } errors { field code } } }""",
            {"u": str(worker.id), "p": created["profile"]["id"]},
            as_user="um",
        )
    )["assignmentCreate"]
    assert assigned["assignment"]["group"] == {"name": "All"}
    viewer = await api.data("{ viewer { permissions } }", token=worker_token)
    assert viewer["viewer"]["permissions"] == ["IR", "IW"]

    in_use = (
        await api.data(
            "mutation($id: ID!) { profileDelete(id: $id) { deletedId errors { code } } }",
            {"id": created["profile"]["id"]},
            as_user="um",
        )
    )["profileDelete"]
    assert in_use == {"deletedId": None, "errors": [{"code": "CONFLICT"}]}

    updated = (
        await api.data(
            """mutation($id: ID!) { profileUpdate(input: {id: $id, permissions: [IR]}) {
                 profile { permissions version } errors { code } } }""",
            {"id": created["profile"]["id"]},
            as_user="um",
        )
    )["profileUpdate"]
    assert updated["profile"] == {"permissions": ["IR"], "version": 2}
    viewer = await api.data("{ viewer { permissions } }", token=worker_token)
    assert viewer["viewer"]["permissions"] == ["IR"]

    await api.data(
        "mutation($id: ID!) { assignmentDelete(id: $id) { deletedId } }",
        {"id": assigned["assignment"]["id"]},
        as_user="um",
    )
    viewer = await api.data("{ viewer { permissions } }", token=worker_token)
    assert viewer["viewer"]["permissions"] == []
    assert not await Assignment.filter(user_id=worker.id).exists()


async def test_seeded_profiles_and_default_group(api: Api) -> None:
    await _admin(api)
    profiles = (await api.data("{ profiles { name permissions } }", as_user="um"))["profiles"]
    seeded = {p["name"]: p["permissions"] for p in profiles}
    assert seeded["Standard user"] == ["CR", "CW", "IR", "IW", "LR", "LW"]
    assert seeded["CRM manager"] == ["CR", "CW", "CM", "IR", "IW", "IM", "LR", "LW", "LM"]
    assert seeded["Support operator"] == []
    groups = (await api.data("{ groups { name } }", as_user="um"))["groups"]
    assert {"name": "All"} in groups
    all_group = next(g for g in (await api.data("{ groups { id name } }", as_user="um"))["groups"])
    refused = (
        await api.data(
            "mutation($id: ID!) { groupDelete(id: $id) { errors { code } } }",
            {"id": all_group["id"]},
            as_user="um",
        )
    )["groupDelete"]
    assert refused["errors"] == [{"code": "CONFLICT"}]
    assert await Profile.all().count() == 4  # three seeded + the UM test profile


async def test_demo_world_matches_the_spec(demo: Api) -> None:
    bits = {}
    for username in ("user1", "manager1", "user2", "admin"):
        bits[username] = (
            await demo.data("{ viewer { permissions company { name } } }", as_user=username)
        )["viewer"]
    assert bits["user1"]["permissions"] == ["CR", "CW", "IR", "IW", "LR", "LW"]
    assert bits["manager1"]["permissions"][:3] == ["CR", "CW", "CM"]
    assert bits["user2"]["permissions"] == []
    # The company access rule applies to a user's own company too: user2 has no CRM
    # bits, and My company (no parent) is visible only to its manager, admin.
    assert bits["user2"]["company"] is None
    assert bits["user1"]["company"] is None
    assert bits["admin"]["company"] == {"name": "My company"}
    assert len(bits["admin"]["permissions"]) == 11
