"""CSV for tests: rows in the SPEC column orders, the bytes a client uploads, and the
import mutations and export downloads over HTTP."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from crm_graphql.services.csvio import CsvEncoder
from crm_graphql.services.exports.contracts import CONTRACT_COLUMNS
from tests.factories import Api

# Written out from SPEC, not taken from the import code, so tests check the code against it.
SPEC_COLUMNS = [
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

RESULT = """
    created updated unchanged rejected written dryRun rowErrorsTruncated
    rowErrors { line field code message }
    errors { field code message }
"""


def import_mutation(name: str) -> str:
    """The import mutation `name` (companyImport, contactImport...) with every result field."""
    return (
        f"mutation Import($file: Upload!, $dryRun: Boolean!, $partial: Boolean!) "
        f"{{ {name}(file: $file, dryRun: $dryRun, partial: $partial) {{ {RESULT} }} }}"
    )


async def export(api: Api, what: str, as_user: str | None, **params: str) -> Any:
    headers = {"Authorization": f"Bearer {api.tokens[as_user]}"} if as_user else {}
    return await api.client.get(f"/export/{what}.csv", params=params, headers=headers)


def rows_of(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


async def upload(
    api: Api,
    content: bytes,
    *,
    as_user: str = "admin",
    mutation: str = "companyImport",
    dry_run: bool = False,
    partial: bool = False,
) -> dict[str, Any]:
    """The GraphQL multipart request spec: operations, map, then the file."""
    operations = {
        "query": import_mutation(mutation),
        "operationName": "Import",
        "variables": {"file": None, "dryRun": dry_run, "partial": partial},
    }
    response = await api.client.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("data.csv", content, "text/csv")},
        headers={"Authorization": f"Bearer {api.tokens[as_user]}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"][mutation]


def to_csv(rows: list[list[str]]) -> bytes:
    return CsvEncoder().encode(rows)


def company_row(name: str, **values: str) -> list[str]:
    """A company row in the SPEC column order; columns named with underscores."""
    row = dict.fromkeys(SPEC_COLUMNS, "")
    row["name"] = name
    row["payment conditions"] = "30"
    for key, value in values.items():
        row[key.replace("_", " ")] = value
    return list(row.values())


def contract_row(reference: str, company: str, **values: str) -> list[str]:
    """A contract row in the SPEC column order; columns named with underscores."""
    cells = dict.fromkeys(CONTRACT_COLUMNS, "")
    cells.update({"name": reference, "company": company, "date begin": "2024-01-01"})
    cells["private"], cells["status"] = "0", "1"
    for key, value in values.items():
        cells[key.replace("_", " ")] = value
    return list(cells.values())
