"""The event log as a webhook's owner may see it (issue 16): what
`services/webhook_delivery.py` reads, given by `webhookworkers.py` (services sit below
permissions). The rule is `permissions/events.py`'s, applied with the owner's Viewer
built at delivery time."""

from __future__ import annotations

from collections.abc import Sequence

from crm_graphql.models.events import Event, EventObjectType
from crm_graphql.permissions.events import (
    UnknownPosition,
    position_q,
    visible_events,
    visible_events_q,
)
from crm_graphql.services.auth import Viewer
from crm_graphql.services.webhook_delivery import LostPosition


class OwnerEvents:
    """`EventSource` over the real log."""

    async def after(
        self, viewer: Viewer, position: int | None, types: Sequence[str], limit: int
    ) -> Sequence[Event]:
        kinds = [EventObjectType(t) for t in types]
        try:
            return await visible_events(viewer, position, kinds, limit)
        except UnknownPosition:
            raise LostPosition(position) from None

    async def one(self, viewer: Viewer, event_id: int, object_type: str) -> Event | None:
        return await Event.filter(
            visible_events_q(viewer, [EventObjectType(object_type)]), id=event_id
        ).first()


async def start_position() -> int:
    """Where a new webhook starts: the last event in reading order below the horizon
    (0 on an empty log), so it delivers what commits after it is made and nothing
    before, whatever order concurrent transactions commit in."""
    last = await Event.filter(await position_q(None)).order_by("-txid", "-id").first()
    return int(last.id) if last is not None else 0
