"""Types of the audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from crm_graphql.schema.common import DateTimeFilter, IntFilter, StringFilter
from crm_graphql.services.listing import FilterSpec


@strawberry.type(name="AuditEntry", description="One recorded action.")
class AuditEntryType:
    id: strawberry.ID = strawberry.field(description="Entry id.")
    user_id: strawberry.ID | None = strawberry.field(description="Who acted (null: anonymous).")
    username: str = strawberry.field(description="Their username at the time.")
    action: str = strawberry.field(
        description="CREATE, UPDATE, DELETE, DENIED, LOGIN, LOGIN_FAILED, LOGOUT, RESTORE "
        "(from the trash) or PURGE (a trash entry for good)."
    )
    object_type: str = strawberry.field(description="Kind of object (User, Profile, ...).")
    object_id: str = strawberry.field(description="Its id.")
    changes: JSON = strawberry.field(
        description="For updates {field: [old, new]}; for creates and deletes the values; "
        "for denials what was refused and why."
    )
    request_id: str = strawberry.field(description="The request it happened in.")
    created_at: datetime = strawberry.field(description="When.")


@strawberry.input(description="Conditions on audit entries.")
class AuditFilter:
    user_id: IntFilter | None = strawberry.field(default=strawberry.UNSET, description="Actor.")
    action: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="Action.")
    object_type: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Kind of object."
    )
    object_id: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Object id."
    )
    created_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="When."
    )


AUDIT_FILTER_SPEC: FilterSpec = {
    "user_id": "user_id",
    "action": "action",
    "object_type": "object_type",
    "object_id": "object_id",
    "created_at": "created_at",
}
