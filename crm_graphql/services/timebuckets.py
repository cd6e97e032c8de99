"""Date buckets (day, ISO week, month, quarter, year) in a named time zone, for the
aggregates: the SQL of each database, and the function SQLite runs for it.

PostgreSQL truncates `ts AT TIME ZONE zone` with `date_trunc`. SQLite has no time
zone database, so each connection registers `crm_bucket(value, unit, zone)`
(`services/sqlite_engine.py`), which reads the stored text (a date, or an instant with
its UTC offset), converts an instant with zoneinfo and truncates it in Python."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNITS = ("day", "week", "month", "quarter", "year")
# Zone names are inlined into SQL: only the characters IANA names use.
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")


class BadTimeZone(ValueError):
    pass


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The zone called `name` (an IANA name such as Europe/Madrid); BadTimeZone if not."""
    if not _ZONE_NAME.match(name):
        raise BadTimeZone(f"'{name[:80]}' is not a time zone name (such as Europe/Madrid).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTimeZone(f"'{name}' is not a known time zone (such as Europe/Madrid).") from None


def truncate(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def sqlite_bucket(value: str | None, unit: str, zone_name: str) -> str | None:
    """The first day of the bucket holding `value` (ISO text), as ISO text."""
    if value is None:
        return None
    text = str(value)
    if len(text) <= 10:
        day = date.fromisoformat(text)
    else:
        moment = datetime.fromisoformat(text)
        day = moment.astimezone(zone(zone_name)).date() if moment.tzinfo else moment.date()
    return truncate(day, unit).isoformat()


def bucket_sql(expression: str, unit: str, zone_name: str, *, instant: bool, postgres: bool) -> str:
    """SQL for the first day of the bucket holding `expression` (a date, or an instant
    when `instant`, taken in the zone). `unit` and `zone_name` are checked first."""
    assert unit in UNITS
    zone(zone_name)
    if not postgres:
        return f"crm_bucket({expression}, '{unit}', '{zone_name}')"
    local = (
        f"({expression} AT TIME ZONE '{zone_name}')"
        if instant
        else f"CAST({expression} AS timestamp)"
    )
    return f"CAST(date_trunc('{unit}', {local}) AS date)"
