"""Saved lead searches: a LeadFilter stored as JSON under a name, per user."""

from __future__ import annotations

from typing import Any

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.leads import SavedLeadSearch
from crm_graphql.models.users import User


async def save_search(user: User, name: str, flt: Any) -> SavedLeadSearch:
    """Saving under an existing name replaces that search's filter."""
    name = (name or "").strip()
    if not name:
        raise FieldError("name", ErrorCode.REQUIRED, "A saved search needs a name.")
    if len(name) > 100:
        raise FieldError("name", ErrorCode.TOO_LARGE, "At most 100 characters.")
    found = await SavedLeadSearch.filter(user_id=user.id, name=name).first()
    if found is not None:
        found.filter_json = flt
        await found.save()
        return found
    if await SavedLeadSearch.filter(user_id=user.id).count() >= 200:
        raise FieldError("name", ErrorCode.TOO_LARGE, "At most 200 saved searches per user.")
    return await SavedLeadSearch.create(user_id=user.id, name=name, filter_json=flt)
