"""The trash: list what the viewer may restore, restore it, purge it (issue 18).

Access is `permissions/trash.py`: an entry the viewer could not delete now is
NOT_FOUND, in the list and in restore and purge alike."""

from __future__ import annotations

from typing import Annotated

import strawberry
from tortoise.expressions import Q

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput, ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.trash import TrashEntry, TrashType
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.trash import TRASH_BITS, visible_trash_q
from crm_graphql.resolvers.common import connection
from crm_graphql.schema.common import Connection, model_enum, user_errors
from crm_graphql.schema.trash import (
    TRASH_DEFAULT_ORDER,
    RestoredRecord,
    TrashEntryType,
    TrashObjectType,
    TrashPurgePayload,
    TrashRestorePayload,
)
from crm_graphql.services import trash as service
from crm_graphql.services.auth import Viewer
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


async def _entries(viewer: Viewer, ids: list[strawberry.ID]) -> list[TrashEntry]:
    """The entries named by `ids`, locked for this transaction; a bad, unknown or hidden
    id is a NOT_FOUND (INVALID when malformed) error on `ids.<position>`."""
    if len(ids) > service.MAX_IDS:
        raise BadUserInput(f"At most {service.MAX_IDS} entries at once.", field="ids")
    errors: list[FieldError] = []
    numbers: list[int | None] = []
    for position, value in enumerate(ids):
        try:
            numbers.append(parse_id(value, f"ids.{position}"))
        except FieldError as exc:
            errors.append(exc)
            numbers.append(None)
    wanted = [n for n in numbers if n is not None]
    found = {
        e.id: e
        for e in await TrashEntry.filter(visible_trash_q(viewer), id__in=wanted)
        .select_for_update()
        .order_by("id")
    }
    entries: dict[int, TrashEntry] = {}
    for position, number in enumerate(numbers):
        if number is None:
            continue
        if number not in found:
            errors.append(FieldError(f"ids.{position}", ErrorCode.NOT_FOUND, "Not in the trash."))
        else:
            entries[number] = found[number]
    if errors:
        raise PayloadErrors(sorted(errors, key=lambda e: int((e.field or ".0").split(".")[1])))
    return list(entries.values())


@strawberry.type
class TrashQuery:
    @strawberry.field(
        description="Deleted companies, contacts, contracts and leads you could delete "
        "(so restore or purge), the latest deletion first.",
        extensions=auth(*TRASH_BITS),
    )
    async def trash(
        self,
        info: Info,
        types: Annotated[
            list[TrashObjectType] | None,
            Described(description="Only these kinds (all when omitted)."),
        ] = None,
        first: Annotated[int | None, Described(description="Page size.")] = None,
        after: Annotated[
            str | None, Described(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[TrashEntryType]:
        viewer = info.context.require_viewer()
        queryset = TrashEntry.filter(visible_trash_q(viewer))
        if types is not None:
            kinds = [model_enum(TrashType, t) for t in types]
            queryset = queryset.filter(Q(object_type__in=kinds))
        return await connection(
            info,
            queryset,
            default_order=TRASH_DEFAULT_ORDER,
            first=first,
            after=after,
        )


@strawberry.type
class TrashMutation:
    @strawberry.mutation(
        description="Bring trash entries back with their ids, relations, files and "
        "history, in one transaction: all of them, or none with an error per entry "
        "(NOT_FOUND: not in the trash or not yours to restore; CONFLICT: something it "
        "depends on is gone; UNIQUE: a unique value was taken meanwhile).",
        extensions=auth(*TRASH_BITS),
    )
    async def restore(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            Described(description=f"Trash entry ids (at most {service.MAX_IDS})."),
        ],
    ) -> TrashRestorePayload:
        viewer = info.context.require_viewer()

        async def work() -> list[TrashEntry]:
            entries = await _entries(viewer, ids)
            errors = await service.restore(entries, viewer, info.context.request_id)
            if errors:
                raise PayloadErrors(errors)
            return entries

        entries, errors = await atomic(work)
        restored = [
            RestoredRecord(
                object_type=TrashObjectType(e.object_type.value),
                object_id=strawberry.ID(str(e.object_id)),
            )
            for e in entries or []
        ]
        return TrashRestorePayload(restored=restored, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete trash entries for good, files' bytes included, in one "
        "transaction: all of them, or none with an error per entry (NOT_FOUND: not in "
        "the trash or not yours to purge).",
        extensions=auth(*TRASH_BITS),
    )
    async def purge(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            Described(description=f"Trash entry ids (at most {service.MAX_IDS})."),
        ],
    ) -> TrashPurgePayload:
        viewer = info.context.require_viewer()

        async def work() -> list[TrashEntry]:
            entries = await _entries(viewer, ids)
            await service.purge(entries, viewer.user, request_id=info.context.request_id)
            return entries

        entries, errors = await atomic(work)
        purged = [strawberry.ID(str(e.id)) for e in entries or []]
        return TrashPurgePayload(purged_ids=purged, errors=user_errors(errors))
