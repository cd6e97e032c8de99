"""The audit log: every create, update and delete, every login and every denied access."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.models import Model

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.users import User

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"
DENIED = "DENIED"
LOGIN = "LOGIN"
LOGIN_FAILED = "LOGIN_FAILED"
LOGOUT = "LOGOUT"
RESTORE = "RESTORE"  # a record back from the trash
PURGE = "PURGE"  # a trash entry deleted for good

# Never copied into the log, whatever the model.
_SECRET_FIELDS = frozenset({"password_hash", "token_hash", "smtp_password", "imap_password"})


def json_value(value: Any) -> Any:
    """A column value as JSON: dates as ISO text, decimals as text, enums by value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def snapshot(obj: Model, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The object's column values, JSON-ready, secrets left out."""
    columns = names if names is not None else obj._meta.db_fields
    return {
        n: json_value(getattr(obj, n))
        for n in columns
        if n not in _SECRET_FIELDS and hasattr(obj, n)
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for each field whose value changed."""
    return {
        k: [before.get(k), v]
        for k, v in after.items()
        if k not in _SECRET_FIELDS and before.get(k) != v
    }


async def record(
    actor: User | None,
    action: str,
    object_type: str,
    object_id: Any = "",
    changes: dict[str, Any] | None = None,
    request_id: str = "",
) -> None:
    await AuditEntry.create(
        user_id=actor.id if actor else None,
        username=actor.username if actor else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        changes=changes or {},
        request_id=request_id,
    )
