"""The `crm-graphql` command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm_graphql.api import schema
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomField, CustomFieldValue
from crm_graphql.models.leads import Lead, LeadHistory
from crm_graphql.models.users import Assignment, User
from tests.conftest import DATABASE_URL
from tests.factories import Api

CLI = [sys.executable, "-m", "crm_graphql.cli"]


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DATABASE_URL": DATABASE_URL, "CRM_DATA_DIR": str(tmp_path)}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_schema_command_prints_the_sdl(tmp_path: Path) -> None:
    result = run("schema", tmp_path=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == str(schema).strip()


async def _world_counts() -> tuple[int, ...]:
    return (
        await User.all().count(),
        await Company.all().count(),
        await Assignment.all().count(),
        await Contact.all().count(),
        await Activity.all().count(),
        await CustomField.all().count(),
        await CustomFieldValue.all().count(),
        await Lead.all().count(),
        await LeadHistory.all().count(),
    )


async def test_demo_is_idempotent(tmp_path: Path) -> None:
    first = run("demo", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    counts = await _world_counts()
    # + the sample contract's "Release" field, the leads' "Seats" field and their values
    assert counts == (4, 3, 3, 3, 4, 9, 19, 10, 26)
    second = run("demo", tmp_path=tmp_path)
    assert second.returncode == 0, second.stderr
    assert await _world_counts() == counts
    for username in ("admin", "user1", "manager1", "user2"):
        assert username in second.stdout
    customer_a = await Company.get(name="Customer #A").prefetch_related("parent", "manager")
    assert customer_a.parent.name == "My company"
    assert customer_a.manager.username == "user1"


async def test_createsuperuser_non_interactive(tmp_path: Path, api: Api) -> None:
    result = run(
        "createsuperuser",
        "--username",
        "chief",
        "--password",
        "chief-password",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    token = await api.login("chief", "chief-password")
    data = await api.data("{ viewer { username permissions } }", token=token)
    assert len(data["viewer"]["permissions"]) == 11

    short = run("createsuperuser", "--username", "x", "--password", "short", tmp_path=tmp_path)
    assert short.returncode != 0
    assert "at least 8" in short.stderr
    assert not await User.filter(username="x").exists()


def test_migrate_command_is_repeatable(tmp_path: Path) -> None:
    for _ in range(2):
        result = run("migrate", tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout
