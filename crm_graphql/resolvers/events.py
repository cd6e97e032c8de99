"""The change feed: `changes(after:, types:, first:)` (issue 16)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ApiError, BadUserInput, ErrorCode, Unauthenticated
from crm_graphql.models.events import Event, EventObjectType
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.events import (
    UnknownPosition,
    latest_position,
    next_events,
    position_q,
    visible_events_q,
)
from crm_graphql.schema.common import Connection, Edge, PageInfo, page_size
from crm_graphql.schema.events import (
    ChangeObjectType,
    ChangeType,
    decode_change_cursor,
    encode_change_cursor,
)
from crm_graphql.services import events
from crm_graphql.services.auth import InvalidToken, Viewer, authenticate


class StaleCursor(ApiError):
    code = ErrorCode.STALE


@strawberry.type
class EventsQuery:
    @strawberry.field(
        description="Changes of the objects you may see, oldest first, for incremental "
        "sync: store the last `endCursor` and pass it as `after` next time; you miss "
        "nothing and see nothing twice. A deletion is a tombstone (`deleted: true`), "
        "shown to those who could see the object when it was deleted. Changes of an "
        "object since deleted appear only as its tombstone.",
        extensions=auth(),
    )
    async def changes(
        self,
        info: Info,
        after: Annotated[
            str | None,
            strawberry.argument(description="The cursor of the last change you read."),
        ] = None,
        types: Annotated[
            list[ChangeObjectType] | None,
            strawberry.argument(description="Only these kinds of object (default: all)."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
    ) -> Connection[ChangeType]:
        viewer = info.context.viewer
        assert viewer is not None  # @auth
        limits = info.context.settings.limits
        size = page_size(first, limits.page_size_default, limits.page_size_max)
        position: int | None = None
        if after is not None:
            position = decode_change_cursor(after)
            if position is None:
                raise BadUserInput("The cursor is not valid.", field="after")
        wanted = [EventObjectType(t.name) for t in types] if types else None
        try:
            where = await position_q(position)
        except UnknownPosition:
            raise StaleCursor(
                "The cursor names a change that no longer exists; sync again from the start.",
                field="after",
            ) from None
        query = Event.filter(where & visible_events_q(viewer, wanted))
        rows = await query.order_by("txid", "id").limit(size + 1) if size else []
        page = rows[:size]
        edges = [Edge(cursor=encode_change_cursor(int(e.id)), node=e) for e in page]

        async def count() -> int:
            return await query.count()

        return Connection(
            edges=edges,  # type: ignore[arg-type]  # models, read as ChangeType
            page_info=PageInfo(
                has_next_page=len(rows) > size,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else after,
            ),
            _count=count,
        )


# How often a live subscription checks its token even when nothing happens.
CHECK_SECONDS = 2.0
# Events read per step of a subscription.
STEP = 200


async def _still_valid(info: Info) -> Viewer:
    """The subscriber, loaded again: a revoked or expired token, or a disabled user,
    ends the subscription; changed rights apply to the next event."""
    raw = info.context.raw_token
    try:
        if raw is None:
            raise InvalidToken
        return await authenticate(raw)
    except InvalidToken:
        raise Unauthenticated("The token was revoked or has expired.") from None


@strawberry.type
class EventsSubscription:
    @strawberry.subscription(
        description="Changes of the objects you may see, as they are committed (from the "
        "moment you subscribe), over the graphql-transport-ws protocol on /graphql: send "
        'your token in `connection_init` (`{"Authorization": "Bearer crm_…"}`). Each '
        "change is checked against your access when it is delivered; a revoked token ends "
        "the subscription. `changes` (the query) catches up after a disconnection.",
        extensions=auth(),
    )
    async def changes(
        self,
        info: Info,
        types: Annotated[
            list[ChangeObjectType] | None,
            strawberry.argument(description="Only these kinds of object (default: all)."),
        ] = None,
    ) -> AsyncGenerator[ChangeType, None]:
        wanted = [EventObjectType(t.name) for t in types] if types else None
        listener = events.subscribe()
        try:
            viewer = await _still_valid(info)
            position = await latest_position()
            while True:
                rows, moved = await next_events(viewer, position, wanted, STEP)
                for row in rows:
                    yield row  # type: ignore[misc]  # the model, read as ChangeType
                if moved == position:
                    # Caught up: sleep until a commit wakes us (or the token check is due).
                    await listener.wait(CHECK_SECONDS)
                position = moved
                viewer = await _still_valid(info)
        finally:
            events.unsubscribe(listener)
