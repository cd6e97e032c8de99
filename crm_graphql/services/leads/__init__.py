"""Leads (SPEC §7): validation, history written by the server, tags, types, activities,
ownership, closing, deletion and saved searches, one module each (`values`,
`history`, `records`, `workflow`, `kinds`, `searches`); callers use the names here.

Callers run these inside one transaction (`services.mutations.atomic`) after checking
the viewer's rights with `permissions/leads.py`; services do not import that layer."""

from __future__ import annotations

from crm_graphql.services.leads.history import (
    add_history,
    history_of_changes,
)
from crm_graphql.services.leads.kinds import (
    check_colour,
    delete_tag,
    delete_type,
    save_tag,
    save_type,
)
from crm_graphql.services.leads.records import (
    change_tags,
    create_lead,
    is_duplicate,
    set_tags,
    tag_ids,
    tag_ids_of,
    touch,
    update_lead,
)
from crm_graphql.services.leads.searches import (
    save_search,
)
from crm_graphql.services.leads.values import (
    channels,
    check_progress,
    close_key,
    progress_name,
    progress_names,
)
from crm_graphql.services.leads.workflow import (
    add_activity,
    assign_owner,
    clean_activity,
    close_lead,
    delete_lead,
    set_progress,
    take_lead,
)

__all__ = [
    "add_activity",
    "add_history",
    "assign_owner",
    "change_tags",
    "channels",
    "check_colour",
    "check_progress",
    "clean_activity",
    "close_key",
    "close_lead",
    "create_lead",
    "delete_lead",
    "delete_tag",
    "delete_type",
    "history_of_changes",
    "is_duplicate",
    "progress_name",
    "progress_names",
    "save_search",
    "save_tag",
    "save_type",
    "set_progress",
    "set_tags",
    "tag_ids",
    "tag_ids_of",
    "take_lead",
    "touch",
    "update_lead",
]
