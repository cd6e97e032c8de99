"""Lead values that come from CRM setup or from a column: progress steps and their names,
channels, the close date's sort key."""

from __future__ import annotations

from datetime import date
from typing import Any

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.leads import DEFAULT_CHANNELS, PROGRESS_NAMES
from crm_graphql.models.setup import CrmSetup

NO_CLOSE_DATE = 99991231


def progress_names(setup: CrmSetup | None) -> dict[int, str]:
    """Every progress code with its name: CRM setup's override, else the default."""
    custom = (setup.lead_progress_names if setup else None) or {}
    return {code: str(custom.get(str(code)) or name) for code, name in PROGRESS_NAMES.items()}


def progress_name(setup: CrmSetup | None, code: int) -> str:
    return progress_names(setup).get(code, str(code))


def channels(setup: CrmSetup | None) -> list[str]:
    return list((setup.lead_channels if setup else None) or DEFAULT_CHANNELS)


def check_progress(code: Any, field: str = "progress") -> int:
    if code not in PROGRESS_NAMES:
        known = ", ".join(str(c) for c in PROGRESS_NAMES)
        raise FieldError(field, ErrorCode.INVALID, f"Unknown progress code {code}; one of {known}.")
    return int(code)


def close_key(day: date | None) -> int:
    return NO_CLOSE_DATE if day is None else day.year * 10_000 + day.month * 100 + day.day
