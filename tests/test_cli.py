"""The `crm-graphql` command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_graphql import __version__
from crm_graphql.api import schema
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.customfields import CustomField, CustomFieldValue
from crm_graphql.models.leads import Lead, LeadHistory
from crm_graphql.models.users import Assignment, User
from tests.conftest import DATABASE_URL, IS_POSTGRES
from tests.factories import Api
from tests.mailservers import free_port
from tests.uvicorn_servers import run


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


# ---------------------------------------------------------------------------------------
# What a new user trips over (issue 12, items 13, 14, 17, 18)

REPOSITORY = Path(__file__).resolve().parent.parent


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_the_data_directory_does_not_depend_on_the_working_directory(tmp_path: Path) -> None:
    show = [
        sys.executable,
        "-c",
        "from crm_graphql.settings import settings as s; print(s.data_dir)",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_DATA_DIR", "CRM_DATABASE_URL")}
    seen = {
        subprocess.run(
            show, env=env, cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        for cwd in (REPOSITORY, tmp_path, Path("/"))
    }
    # From a checkout (the editable install scripts/setup.sh makes): its data/ folder.
    assert seen == {str(REPOSITORY / "data")}


def test_an_unmigrated_database_says_run_migrate(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    csv_file = tmp_path / "companies.csv"
    csv_file.write_text("name\nAcme\n", encoding="utf-8")
    sqlite = {"CRM_DATABASE_URL": None, "CRM_DATA_DIR": str(data)}
    # From another directory: no database yet, and none is created by asking.
    result = run("import", "companies", str(csv_file), tmp_path=tmp_path, env=sqlite, cwd=tmp_path)
    assert result.returncode == 3
    assert "run `crm-graphql migrate`" in result.stderr
    _no_traceback(result)
    assert not (data / "crm.sqlite3").exists()

    # An existing but empty database file: the same message, naming what is pending.
    data.mkdir()
    (data / "crm.sqlite3").touch()
    result = run("import", "companies", str(csv_file), tmp_path=tmp_path, env=sqlite)
    assert result.returncode == 3
    assert "not migrated" in result.stderr and "0001_initial" in result.stderr
    _no_traceback(result)

    # `migrate` says what it applied, then that there was nothing to apply.
    first = run("migrate", tmp_path=tmp_path, env=sqlite, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Applied" in first.stdout and "0001_initial" in first.stdout
    assert "up to date" not in first.stdout
    assert str(data / "crm.sqlite3") in first.stdout
    second = run("migrate", tmp_path=tmp_path, env=sqlite, cwd=REPOSITORY)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout and "Applied" not in second.stdout
    assert str(data / "crm.sqlite3") in second.stdout


def test_an_unreachable_database_is_reported_as_such(tmp_path: Path) -> None:
    nowhere = {"CRM_DATABASE_URL": f"postgres://crm:secret@127.0.0.1:{free_port()}/crm"}
    csv_file = tmp_path / "companies.csv"
    csv_file.write_text("name\n", encoding="utf-8")
    for args in (("migrate",), ("import", "companies", str(csv_file))):
        result = run(*args, tmp_path=tmp_path, env=nowhere)
        assert result.returncode == 3, args
        assert "Cannot reach the database postgres://***@127.0.0.1" in result.stderr
        assert "secret" not in result.stderr and "not migrated" not in result.stderr
        _no_traceback(result)


@pytest.mark.skipif(not IS_POSTGRES, reason="serve migrates SQLite itself")
@pytest.mark.parametrize("workers", ["1", "2"])
async def test_serve_on_an_unmigrated_postgresql_says_run_migrate(
    tmp_path: Path, workers: str
) -> None:
    import asyncpg

    base, _, name = DATABASE_URL.rpartition("/")
    fresh = f"{name}_unmigrated"
    admin = await asyncpg.connect(f"{base}/postgres".replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        await admin.execute(f'CREATE DATABASE "{fresh}"')
        result = run(
            "serve",
            "--port",
            str(free_port()),
            "--workers",
            workers,
            tmp_path=tmp_path,
            env={"CRM_DATABASE_URL": f"{base}/{fresh}"},
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        await admin.close()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not migrated" in result.stderr and "run `crm-graphql migrate`" in result.stderr
    _no_traceback(result)


def test_configuration_mistakes_name_the_variable(tmp_path: Path) -> None:
    cases = {
        "CRM_PAGE_SIZE_MAX": ("abc", "whole number"),
        "CRM_QUERY_TIMEOUT_SECONDS": ("soon", "a number"),
        "CRM_GRAPHIQL": ("maybe", "one of 1, true"),
        "CRM_MODE": ("prod", "'development' or 'production'"),
        "CRM_PORT": ("70000", "1 to 65535"),
        "CRM_DATABASE_URL": ("mysqlish://x", "postgres://user:password@host"),
    }
    for name, (value, expected) in cases.items():
        result = run("migrate", tmp_path=tmp_path, env={name: value})
        assert result.returncode != 0, name
        assert name in result.stderr and expected in result.stderr, result.stderr
        _no_traceback(result)


def test_version(tmp_path: Path) -> None:
    result = run("--version", tmp_path=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"crm-graphql {__version__}"


async def test_createsuperuser_without_a_terminal_explains(tmp_path: Path, api: Api) -> None:
    result = run("createsuperuser", "--username", "boss", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "CRM_SUPERUSER_PASSWORD" in result.stderr and "--password" in result.stderr
    _no_traceback(result)
    assert "EOFError" not in result.stderr
    assert not await User.filter(username="boss").exists()
    # The documented way for scripts: the password in the environment.
    result = run(
        "createsuperuser",
        "--username",
        "boss",
        tmp_path=tmp_path,
        env={"CRM_SUPERUSER_PASSWORD": "boss-password"},
    )
    assert result.returncode == 0, result.stderr
    assert await api.login("boss", "boss-password")


def test_import_exit_codes_match_the_readme(tmp_path: Path) -> None:
    missing = run("import", "companies", str(tmp_path / "nope.csv"), tmp_path=tmp_path)
    assert missing.returncode == 2
    assert "No such file" in missing.stderr
    folder = run("import", "companies", str(tmp_path), tmp_path=tmp_path)
    assert folder.returncode == 2
    assert "is a directory" in folder.stderr and "No such file" not in folder.stderr
    for result in (missing, folder):
        _no_traceback(result)


async def test_import_reads_a_semicolon_separated_file(tmp_path: Path) -> None:
    # What a spreadsheet in a European locale saves as "CSV": semicolons, and a BOM.
    from tests.csvdata import SPEC_COLUMNS, company_row

    lines = [SPEC_COLUMNS, company_row("Café Ñandú", country="España", address="C/ Mayor, 1")]
    csv_file = tmp_path / "companies.csv"
    text = "".join(";".join(cells) + "\r\n" for cells in lines)
    csv_file.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = run("import", "companies", str(csv_file), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    company = await Company.get(name="Café Ñandú")
    assert (company.country, company.address) == ("España", "C/ Mayor, 1")
