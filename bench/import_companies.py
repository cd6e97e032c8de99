"""Benchmark: the companies CSV import, against a raw-SQL baseline of the same rows.

    .venv/bin/python bench/import_companies.py [--rows 100000] [--parents 1000]
        [--database-url URL] [--keep]

Generates its own data: a first file of `--parents` top-level companies, imported
first (and timed on its own), then the main file of `--rows` companies whose `id parent`
refers to those earlier ids, with a role, one of five managers, a fiscal id, an e-mail
and two company custom fields (a COMBO and a NUMERIC). The main file is imported by the
same service the `companyImport` mutation and `crm-graphql import` call
(services/imports/companies.py), as the system, in one transaction: validation in chunks with
set-based lookups, bulk inserts, paths set by one UPDATE per chunk, an audit entry per
company. It prints rows/s and the process's peak RSS (`resource.getrusage`) before and
after.

The baseline then deletes those rows and inserts the same file again with raw SQL:
`executemany` of the same rows in chunks (companies, then their custom field values),
the same path UPDATE, one transaction, no validation and no audit.

SQLite by default (a temporary file). With a PostgreSQL URL
(postgres://postgres@127.0.0.1:5432/<db>) the database is created, and dropped at the end
unless --keep."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.companies_query import (  # noqa: E402  (shared database helpers)
    create_postgres_database,
    drop_postgres_database,
    is_postgres,
)

CHUNK = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="companies in the main file")
    parser.add_argument("--parents", type=int, default=1_000, help="companies imported first")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    return parser.parse_args(argv)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------------------------------
# Data


HEADER_FIXED = [
    "name",
    "address",
    "fiscal id",
    "country",
    "website",
    "comments",
    "id company role",
    "id parent",
    "manager",
    "last update",
    "payment conditions",
    "billing",
    "office phone",
    "general email",
]
COUNTRIES = ["Spain", "France", "Germany", "Italy", "Portugal", "United Kingdom"]
SIZES = ["Small", "Medium", "Large"]
MANAGERS = [f"manager{i}" for i in range(5)]


def write_file(
    path: Path,
    prefix: str,
    count: int,
    parents: list[int],
    roles: list[int],
    seed: int,
) -> int:
    """A companies CSV of `count` rows; returns its size in bytes."""
    from crm_graphql.services.csvio import CsvEncoder

    rng = random.Random(seed)
    encoder = CsvEncoder()
    with path.open("wb") as out:
        out.write(encoder.encode([[*HEADER_FIXED, "Size", "Employees"]]))
        batch = []
        for i in range(count):
            batch.append(
                [
                    f"{prefix} {i:07d}",
                    f"Calle Mayor {i % 500}, {rng.randint(10000, 99999)} Madrid",
                    f"{prefix[:1]}{i:09d}",
                    rng.choice(COUNTRIES),
                    f"https://{prefix.lower()}{i}.example.com",
                    "Imported for the benchmark" if i % 3 else "",
                    str(rng.choice(roles)),
                    str(rng.choice(parents)) if parents else "",
                    rng.choice(MANAGERS),
                    "2024-01-01T00:00:00+00:00",
                    str(rng.choice((15, 30, 60, 90))),
                    "0.00",
                    f"+34 91 {i % 1000:03d} {i % 10000:04d}",
                    f"info{i}@{prefix.lower()}.example.com",
                    rng.choice(SIZES),
                    str(rng.randint(1, 5000)),
                ]
            )
            if len(batch) == CHUNK:
                out.write(encoder.encode(batch))
                batch.clear()
        out.write(encoder.encode(batch))
    return path.stat().st_size


# ---------------------------------------------------------------------------------------
# The two contenders


async def run_import(path: Path) -> tuple[Any, float]:
    from crm_graphql.permissions.imports import system_access
    from crm_graphql.services.imports.companies import import_companies

    with path.open("rb") as stream:
        started = time.perf_counter()
        result = await import_companies(stream, system_access(), file_name=path.name)
        return result, time.perf_counter() - started


async def run_baseline(path: Path, fields: list[int]) -> float:
    """The same rows with raw executemany: companies, then custom values, then paths."""
    from tortoise import timezone
    from tortoise.transactions import in_transaction

    from crm_graphql.models.users import User

    managers = dict(await User.filter(username__in=MANAGERS).values_list("username", "id"))
    started = time.perf_counter()
    from crm_graphql.services.imports.sql import execute_many, plan_cache

    async with in_transaction() as conn:
        pg = conn.capabilities.dialect == "postgres"
        # The same PostgreSQL plan-cache treatment as the import (see plan_cache).
        await plan_cache(conn, "force_custom_plan")

        def marks(n: int) -> str:
            return ", ".join(f"${i}" if pg else "?" for i in range(1, n + 1))

        columns = (
            "name, address, fiscal_id, country, website, comments, role_id, parent_id, "
            "manager_id, payment_conditions, office_phone, general_email, created_at, "
            "last_update, version, path, billing_cents"
        )
        insert = f"INSERT INTO companies ({columns}) VALUES ({marks(17)})"
        values_sql = (
            f"INSERT INTO custom_field_values (field_id, object_id, value) VALUES ({marks(3)})"
        )
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            chunk: list[list[str]] = []

            async def flush() -> None:
                now = timezone.now()
                await execute_many(
                    conn,
                    insert,
                    [
                        [
                            r[0],
                            r[1],
                            r[2] or None,
                            r[3],
                            r[4],
                            r[5],
                            int(r[6]) if r[6] else None,
                            int(r[7]) if r[7] else None,
                            managers.get(r[8]),
                            int(r[10]),
                            r[12].removeprefix("'"),
                            r[13],
                            now,
                            now,
                            1,
                            "",
                            0,
                        ]
                        for r in chunk
                    ],
                )
                names = [r[0] for r in chunk]
                _, found = await conn.execute_query(
                    f"SELECT id, name FROM companies WHERE name IN ({marks(len(names))})",
                    names,
                )
                ids = {row["name"]: row["id"] for row in found}
                await execute_many(
                    conn,
                    values_sql,
                    [
                        [field_id, ids[r[0]], r[14 + k]]
                        for r in chunk
                        for k, field_id in enumerate(fields)
                    ],
                )
                await conn.execute_query(
                    "UPDATE companies SET path = COALESCE((SELECT p.path FROM companies p "
                    "WHERE p.id = companies.parent_id), '/') || CAST(id AS VARCHAR(12)) || '/' "
                    f"WHERE id IN ({','.join(str(int(i)) for i in ids.values())})"
                )
                chunk.clear()

            for row in reader:
                chunk.append(row)
                if len(chunk) == CHUNK:
                    await flush()
            if chunk:
                await flush()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    from tortoise import Tortoise
    from tortoise.expressions import Subquery

    from crm_graphql.models.audit import AuditEntry
    from crm_graphql.models.companies import Company, CompanyRole
    from crm_graphql.models.customfields import (
        CustomField,
        CustomFieldEntity,
        CustomFieldKind,
        CustomFieldValue,
    )
    from crm_graphql.models.users import User
    from crm_graphql.services.bootstrap import ensure_defaults
    from crm_graphql.services.database import apply_migrations
    from crm_graphql.settings import settings, tortoise_config

    url = settings.database_url
    await apply_migrations(tortoise_config(url))
    await Tortoise.init(config=tortoise_config(url))
    try:
        await ensure_defaults()
        roles = [
            (await CompanyRole.get_or_create(name=name))[0].id
            for name in ("Customer", "Supplier", "Other")
        ]
        for username in MANAGERS:
            await User.get_or_create(username=username, defaults={"real_name": username})
        size = await CustomField.create(
            entity=CustomFieldEntity.COMPANY,
            name="Size",
            kind=CustomFieldKind.COMBO,
            options=SIZES,
            position=1,
        )
        employees = await CustomField.create(
            entity=CustomFieldEntity.COMPANY,
            name="Employees",
            kind=CustomFieldKind.NUMERIC,
            position=2,
        )
        workdir = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))

        first = workdir / "parents.csv"
        write_file(first, "Holding", args.parents, [], roles, seed=1)
        result, seconds = await run_import(first)
        assert result.created == args.parents and not result.rejected, result
        parent_ids = list(await Company.all().values_list("id", flat=True))

        main_file = workdir / "companies.csv"
        size_bytes = write_file(main_file, "Company", args.rows, parent_ids, roles, seed=2)
        before_rss = peak_rss_mib()
        result, import_seconds = await run_import(main_file)
        after_rss = peak_rss_mib()
        assert result.created == args.rows and not result.rejected, result.row_errors[:5]
        bad_paths = (
            await Company.filter(name__startswith="Company ").exclude(path__endswith="/").count()
        )
        assert bad_paths == 0
        sample = await Company.filter(name="Company 0000007").first()
        assert sample is not None and sample.parent_id is not None
        parent = await Company.get(id=sample.parent_id)
        assert sample.path == f"{parent.path}{sample.id}/", (sample.path, parent.path)

        imported = Company.filter(name__startswith="Company ")
        await CustomFieldValue.filter(object_id__in=Subquery(imported.values("id"))).delete()
        await AuditEntry.filter(object_type="Company").delete()
        await imported.delete()
        baseline_seconds = await run_baseline(main_file, [size.id, employees.id])
        assert await Company.filter(name__startswith="Company ").count() == args.rows

        database = "PostgreSQL" if is_postgres(url) else "SQLite"
        print(f"database: {database}; rows: {args.rows:,}; file: {size_bytes / 2**20:.1f} MiB")
        print(
            f"machine: {os.cpu_count()} cpus, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}"
        )
        print(f"parents file: {args.parents:,} rows in {seconds:.2f} s")
        print()
        print(f"{'':<24}{'seconds':>10}{'rows/s':>12}")
        print(
            f"{'import (service)':<24}{import_seconds:>10.2f}{args.rows / import_seconds:>12,.0f}"
        )
        print(
            f"{'raw SQL executemany':<24}{baseline_seconds:>10.2f}"
            f"{args.rows / baseline_seconds:>12,.0f}"
        )
        print(f"import / baseline time: {import_seconds / baseline_seconds:.2f}x")
        print(f"peak RSS: {before_rss:.0f} MiB before the import, {after_rss:.0f} MiB after")
    finally:
        await Tortoise.close_connections()


def entry() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    url = args.database_url or f"sqlite://{tmp / 'bench.sqlite3'}"
    os.environ["CRM_DATABASE_URL"] = url
    os.environ["CRM_DATA_DIR"] = str(tmp / "data")
    if is_postgres(url):
        asyncio.run(create_postgres_database(url))
    try:
        asyncio.run(main(args))
    finally:
        if is_postgres(url) and not args.keep:
            asyncio.run(drop_postgres_database(url))


if __name__ == "__main__":
    entry()
