"""Upgrading a database that has data (issue 12): migration 0015 fills billing per
currency from the invoices and drops the old column in place (a table rebuild would
fail the foreign keys of existing rows on SQLite); 0016 refuses while duplicates exist.
Runs the `tortoise` migration CLI on its own SQLite file; PostgreSQL was checked by hand
the same way (see the branch report)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TORTOISE = [sys.executable, "-m", "tortoise", "-c", "crm_graphql.settings.TORTOISE_ORM", "migrate"]
INVOICE = (
    "INSERT INTO invoices (company_id, kind, bill_id, reference, status, issued_on, "
    "language, currency, discount_concept, discount_percent, retention_concept, "
    "retention_percent, description, internal_note, locked, base_cents, total_cents, "
    "created_at, updated_at, version) VALUES (1, ?, ?, '', ?, '2024-01-01', 'en', ?, '', "
    "0, '', 0, '', '', 0, ?, ?, '2024-01-01', '2024-01-01', 1)"
)


def _migrate(db: Path, *target: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DATABASE_URL": f"sqlite://{db}"}
    return subprocess.run(
        [*TORTOISE, *target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_upgrade_with_data(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    old = _migrate(db, "crm", "0012_lead_pipeline_updated_index")
    assert old.returncode == 0, old.stderr
    with sqlite3.connect(db) as c:
        c.execute(
            "INSERT INTO companies (id, name, address, country, website, comments, "
            "last_update, payment_conditions, office_phone, general_email, created_at, "
            "version, path, billing_cents, last_activity_key) VALUES (1, 'A', '', '', '', "
            "'', '2024-01-01', 30, '', '', '2024-01-01', 1, '/1/', 1010000, 0)"
        )
        for i, (kind, status, currency, base) in enumerate(
            [
                ("SUBMITTED", "PENDING", "EUR", 10_000),
                ("SUBMITTED", "PAID", "JPY", 1_000_000),
                ("SUBMITTED", "CANCELED", "EUR", 500),
                ("RECEIVED", "PENDING", "EUR", 700),
            ]
        ):
            c.execute(INVOICE, (kind, f"B{i}", status, currency, base, base))
        c.execute(
            "INSERT INTO contacts (company_id, full_name, email, phone, mobile, position, "
            "description, disabled, created_at, updated_at, version) VALUES "
            "(1, 'x', 'a@x.com', '', '', '', '', 0, '2024-01-01', '2024-01-01', 1), "
            "(1, 'y', 'A@X.com', '', '', '', '', 0, '2024-01-01', '2024-01-01', 1)"
        )
    refused = _migrate(db)
    assert refused.returncode != 0
    assert "company 1: 2 contacts with e-mail 'a@x.com'" in refused.stderr + refused.stdout
    with sqlite3.connect(db) as c:
        billing = c.execute("SELECT currency, cents FROM company_billings ORDER BY 1").fetchall()
        assert billing == [("EUR", 10_000), ("JPY", 1_000_000)]  # never 1,010,000
        columns = [row[1] for row in c.execute("PRAGMA table_info(companies)")]
        assert "billing_cents" not in columns
        assert c.execute("SELECT COUNT(*) FROM invoices").fetchone() == (4,)
        c.execute("DELETE FROM contacts WHERE email = 'A@X.com'")
    done = _migrate(db)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as c, pytest.raises(sqlite3.IntegrityError):
        c.execute(
            "INSERT INTO companies (name, address, country, website, comments, last_update, "
            "payment_conditions, office_phone, general_email, created_at, version, path, "
            "last_activity_key) VALUES ('a', '', '', '', '', '2024-01-01', 30, '', '', "
            "'2024-01-01', 1, '', 0)"
        )
