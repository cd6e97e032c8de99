"""Who sees which event (issue 16): the change feed, record history, webhooks and
subscriptions all read the event log through here.

- A create or update is visible while the viewer can see its object NOW, by the same
  rule as the object's list (an event of an object since deleted is shown only as its
  tombstone).
- A deletion (tombstone) is visible to the users who could see the object when it was
  deleted (`EventAudience`, stored by `services/events.py` with `audience` below, the
  same rules again) and to superadmins.

Readers page in (`txid`, `id`) order below the PostgreSQL horizon, so an event that
commits after a reader passed its position cannot exist (docs/architecture.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from tortoise.connection import connections
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm_graphql.models.activities import Activity
from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract
from crm_graphql.models.events import Event, EventAction, EventAudience, EventObjectType
from crm_graphql.models.files import StoredFile
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import (
    NOTHING,
    belongs_to_visible_company_q,
    visible_companies_q,
)
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.files import visible_files_q
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.services import events as event_service
from crm_graphql.services.auth import Viewer, bits_for_users
from crm_graphql.services.orm import column_values, compiled


def _contacts(viewer: Viewer) -> Q:
    return belongs_to_visible_company_q(viewer)


def _activities(viewer: Viewer) -> Q:
    return belongs_to_visible_company_q(viewer)


def _files(viewer: Viewer) -> Q:
    return visible_files_q(viewer)


# Per object type: its model and the rule of its list.
RULES: dict[EventObjectType, tuple[type[Model], Callable[[Viewer], Q]]] = {
    EventObjectType.COMPANY: (Company, visible_companies_q),
    EventObjectType.CONTACT: (Contact, _contacts),
    EventObjectType.CONTRACT: (Contract, visible_contracts_q),
    EventObjectType.INVOICE: (Invoice, visible_invoices_q),
    EventObjectType.LEAD: (Lead, visible_leads_q),
    EventObjectType.ACTIVITY: (Activity, _activities),
    EventObjectType.FILE: (StoredFile, _files),
}

LIVE_ACTIONS = (str(EventAction.CREATE), str(EventAction.UPDATE))


def visible_objects_q(viewer: Viewer, object_type: EventObjectType) -> Q | None:
    """The live events of one object type the viewer may see; None: none."""
    model, rule = RULES[object_type]
    condition = rule(viewer)
    if condition is NOTHING:
        return None
    ids = Subquery(model.filter(condition).values("id"))
    return Q(object_type=str(object_type), object_id__in=ids, action__in=LIVE_ACTIONS)


def visible_events_q(viewer: Viewer, types: Sequence[EventObjectType] | None = None) -> Q:
    """The events the viewer may see (of `types`, or all)."""
    wanted = [str(t) for t in types] if types else [str(t) for t in EventObjectType]
    if viewer.is_superadmin:
        return Q(object_type__in=wanted)
    parts = [
        part
        for object_type in EventObjectType
        if str(object_type) in wanted
        if (part := visible_objects_q(viewer, object_type)) is not None
    ]
    heard = Subquery(EventAudience.filter(user_id=viewer.user.id).values("event_id"))
    parts.append(Q(action=str(EventAction.DELETE), object_type__in=wanted, id__in=heard))
    return Q(*parts, join_type="OR")


class UnknownPosition(LookupError):
    """`after` names no event (forged, or the log was pruned past it)."""


# The oldest transaction still running, leaving out those known to run in another
# database of the cluster (transaction ids are cluster-wide: a long transaction over
# there must not hold this feed back). A transaction whose database cannot be told
# (pg_stat_activity hides it, or it ended meanwhile) is counted: the horizon errs low.
_HORIZON = """
WITH s AS (SELECT pg_current_snapshot() AS snap),
elsewhere AS (
  SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity
  WHERE datname IS DISTINCT FROM current_database() AND backend_xid IS NOT NULL
)
SELECT COALESCE(
  (SELECT min(x::text::bigint) FROM s, pg_snapshot_xip(s.snap) AS x
   WHERE x::text::bigint % 4294967296 NOT IN (SELECT xid FROM elsewhere)),
  (SELECT pg_snapshot_xmax(snap)::text::bigint FROM s)
) AS horizon
"""


async def horizon() -> int | None:
    """PostgreSQL: the oldest transaction of this database still running (`txid`s from
    it on may still commit, so readers stop below it); None on SQLite (one writer, ids
    in commit order)."""
    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        return None
    rows = await conn.execute_query_dict(_HORIZON)
    return int(rows[0]["horizon"])


async def position_q(after: int | None) -> Q:
    """The events after the event `after` in reading order, below the horizon."""
    limit = await horizon()
    where = Q() if limit is None else Q(txid__lt=limit)
    if after is None:
        return where
    found = await column_values(Event.filter(id=after), "txid")
    if not found:
        raise UnknownPosition(after)
    txid = found[0]
    return where & (Q(txid__gt=txid) | Q(txid=txid, id__gt=after))


async def visible_events(
    viewer: Viewer,
    after: int | None,
    types: Sequence[EventObjectType] | None,
    limit: int,
) -> list[Event]:
    """The viewer's next `limit` events after the event `after` (None: from the start),
    in reading order; raises UnknownPosition for an `after` that names no event."""
    where = await position_q(after)
    return (
        await Event.filter(where & visible_events_q(viewer, types))
        .order_by("txid", "id")
        .limit(limit)
    )


async def next_events(
    viewer: Viewer,
    after: int | None,
    types: Sequence[EventObjectType] | None,
    limit: int,
) -> tuple[list[Event], int | None]:
    """The viewer's events among the next `limit` events of the log after `after`, and
    the position to read on from (the last event looked at, seen or not), so a reader
    who sees little of a busy log does not scan the same events again."""
    where = await position_q(after)
    window = await column_values(Event.filter(where).order_by("txid", "id").limit(limit), "id")
    if not window:
        return [], after
    rows = await Event.filter(Q(id__in=window) & visible_events_q(viewer, types)).order_by(
        "txid", "id"
    )
    return list(rows), int(window[-1])


async def latest_position() -> int | None:
    """The last event a reader may read now (below the horizon): where a live reader
    that wants only what comes next starts."""
    where = await position_q(None)
    last = await column_values(Event.filter(where).order_by("-txid", "-id").limit(1), "id")
    return int(last[0]) if last else None


async def viewer_of(user_id: int) -> Viewer | None:
    """A user as a viewer with every bit they hold (a webhook's owner at delivery):
    None when the user is gone or disabled."""
    user = await User.filter(id=user_id, enabled=True).select_related("company").first()
    if user is None:
        return None
    bits = await bits_for_users([user.id])
    return _viewer(user, bits.get(user.id, frozenset()))


def _viewer(user: User, bits: frozenset[str]) -> Viewer:
    return Viewer(user=user, bits=bits, token_id=0, token_kind=TokenKind.API, scope=TokenScope.FULL)


# Users whose rules one audience statement unites; each adds its rule's conditions and
# the ids (PostgreSQL takes at most 32,767 parameters in a statement).
USERS_PER_STATEMENT = 50
_PG_PARAM = re.compile(r"\$(\d+)")


async def audience(object_type: EventObjectType, ids: Sequence[int]) -> dict[int, list[int]]:
    """Who (enabled non-superadmin users) can see each of these objects now, by the
    rule of their list: each user's rule selects among the ids, and one statement unites
    the selections of up to USERS_PER_STATEMENT users (a deletion in a CRM of many users
    is not one query per user)."""
    model, rule = RULES[object_type]
    users = await User.filter(enabled=True, is_superadmin=False).select_related("company")
    bits = await bits_for_users([user.id for user in users])
    seen: dict[int, list[int]] = {object_id: [] for object_id in ids}
    selections = []
    for user in users:
        condition = rule(_viewer(user, bits.get(user.id, frozenset())))
        if condition is not NOTHING:
            selections.append((user.id, model.filter(condition, id__in=list(ids))))
    for start in range(0, len(selections), USERS_PER_STATEMENT):
        for user_id, object_id in await _selected(selections[start : start + USERS_PER_STATEMENT]):
            seen[int(object_id)].append(int(user_id))
    return seen


def _renumbered(sql: str, offset: int) -> str:
    return _PG_PARAM.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


async def _selected(selections: list[tuple[int, QuerySet[Any]]]) -> list[tuple[int, int]]:
    """(user id, object id) for each id each user's queryset selects, in one UNION ALL of
    Tortoise's own SQL for them (the parameters renumbered after each other)."""
    parts: list[str] = []
    params: list[Any] = []
    db = None
    found: list[tuple[int, int]] = []
    for user_id, queryset in selections:
        pk = queryset.model._meta.pk_attr
        sql, own, db = compiled(queryset, ordered=False)
        if db.capabilities.dialect == "postgres":
            if sql.count("$") != len(_PG_PARAM.findall(sql)):
                # A dollar sign that is not a parameter: this user's query runs alone.
                found += [(user_id, i) for i in await column_values(queryset, pk)]
                continue
            sql = _renumbered(sql, len(params))
        # The user id is an int from the database, never text from a client.
        column = queryset.model._meta.db_pk_column
        parts.append(f'SELECT DISTINCT {int(user_id)}, s."{column}" FROM ({sql}) s')  # noqa: S608
        params += own
    if db is not None and parts:
        _, rows = await db.execute_query(" UNION ALL ".join(parts), params)
        found += [(row[0], row[1]) for row in rows]
    return found


event_service.set_audience(audience)
