"""A saved lead search as the list's filter: its stored JSON checked by the schema's own
LeadFilter input type, within the filter limits. The `leads` resolver, saving a search
and the compiled read path (compiled/roots.py) all read it through here."""

from __future__ import annotations

from typing import Any

import orjson

from crm_graphql.errors import BadUserInput, ErrorCode, FieldError
from crm_graphql.ids import query_id
from crm_graphql.models.leads import SavedLeadSearch
from crm_graphql.schema.filterjson import BadFilter, parse_filter
from crm_graphql.schema.leads.filters import LeadFilter
from crm_graphql.services.auth import Viewer
from crm_graphql.settings import Limits


def lead_filter_from_json(schema: Any, limits: Limits, value: Any) -> LeadFilter | None:
    """A LeadFilter written as JSON (a saved search), checked by the strawberry
    `schema` itself. Raises FieldError when it is not one."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # integers beyond 64 bits, which no filter holds
        raise FieldError("filter", ErrorCode.INVALID, "Not a valid lead filter.") from None
    try:
        return parse_filter(schema, text, "LeadFilter", LeadFilter, limits)
    except BadFilter as exc:
        raise FieldError("filter", ErrorCode.INVALID, str(exc)) from None


async def saved_search_filter(
    schema: Any, limits: Limits, viewer: Viewer, saved_search_id: Any
) -> LeadFilter | None:
    """The filter of the viewer's own saved search `saved_search_id` (one statement).
    NOT_FOUND for an id that cannot exist; BAD_USER_INPUT on `savedSearchId` for
    someone else's or an unknown search, or a stored filter the schema now refuses."""
    saved = await SavedLeadSearch.filter(
        user_id=viewer.user.id, id=query_id(saved_search_id)
    ).first()
    if saved is None:
        raise BadUserInput("No such saved search.", field="savedSearchId")
    try:
        return lead_filter_from_json(schema, limits, saved.filter_json)
    except FieldError as exc:
        raise BadUserInput(exc.message, field="savedSearchId") from None
