"""Reading a row of a contracts file (CONTRACT_COLUMNS): its cells as the values of a
contract, checked as `services.contracts` checks them; what needs the database or the
rest of the file is left to the importer."""

from __future__ import annotations

from datetime import date
from typing import Any

from crm_graphql.errors import ErrorCode
from crm_graphql.ids import id_number
from crm_graphql.services import contracts as contract_rules
from crm_graphql.services.exports.contracts import CONTRACT_STATUS_CODES
from crm_graphql.services.imports.cells import parse_bool
from crm_graphql.services.imports.rows import Row

# Error fields of the contract rules (camelCase) -> the file's column names.
_CONTRACT_FIELD_COLUMNS = {
    "reference": "name",
    "number": "contract number",
    "description": "description",
    "dateEnd": "date end",
    "slaId": "id sla",
    "groupId": "id group",
}


def parse_contract(line: int, cells: list[str]) -> Row:
    """The row of a contracts file's line (its fixed cells, unescaped)."""
    (
        reference,
        number,
        description,
        begin,
        end,
        company_id,
        sla,
        group,
        private,
        status,
        type_id,
        related,
        manager,
        company,
    ) = cells
    data: dict[str, Any] = {
        "reference": reference,
        "number": number,
        "description": description,
    }
    row = Row(line, data, {}, {"manager": manager.strip(), "company": company.strip()})
    for column, key, text, required in (
        ("date begin", "date_begin", begin, True),
        ("date end", "date_end", end, False),
    ):
        text = text.strip()
        if not text:
            data[key] = None
            if required:
                row.fail(column, ErrorCode.REQUIRED, "A contract needs a start date.")
            continue
        try:
            data[key] = date.fromisoformat(text)
        except ValueError:
            row.fail(column, ErrorCode.INVALID, f"'{text}' is not a date (YYYY-MM-DD).")
    row.read_ids(
        ("id company", "_company_id", company_id),
        ("id contract type", "contract_type_id", type_id),
    )
    for column, key, text in (("id sla", "sla_id", sla), ("id group", "group_id", group)):
        text = text.strip()
        if not text:
            data[key] = None
        elif text.isascii() and text.isdigit() and id_number(text, minimum=0) is not None:
            data[key] = int(text)
        else:
            row.fail(column, ErrorCode.INVALID, f"'{text}' is not a valid id.")
    try:
        data["private"] = parse_bool(private)
    except ValueError:
        row.fail("private", ErrorCode.INVALID, "Use 1 or 0 (or true or false).")
    code = status.strip().upper()
    code = CONTRACT_STATUS_CODES.get(code, code)
    if code in CONTRACT_STATUS_CODES.values():
        data["status"] = code
    else:
        row.fail("status", ErrorCode.INVALID, "Use 0 (inactive), 1 (active) or 2 (pending).")
    try:
        ids = sorted({int(p) for p in related.replace(",", " ").replace(";", " ").split()})
        if any(id_number(i) is None for i in ids):
            raise ValueError(related)
        data["related"] = ids
    except ValueError:
        row.fail("related contract", ErrorCode.INVALID, "Contract ids separated by spaces.")
        data["related"] = []
    for problem in contract_rules._clean(data):
        row.fail(_CONTRACT_FIELD_COLUMNS.get(problem.field or ""), problem.code, problem.message)
    for problem in contract_rules.check_dates(data.get("date_begin"), data.get("date_end")):
        row.fail("date end", problem.code, problem.message)
    return row
