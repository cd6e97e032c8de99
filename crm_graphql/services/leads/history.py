"""A lead's history lines, written by the server only: one line per change of progress,
estimated sale, close date and owner, then one "Updated: a, b" line for the rest."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.leads import CLOSED_FROM, Lead, LeadHistory, LeadHistoryKind
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import User
from crm_graphql.services.leads.values import progress_names
from crm_graphql.values import cents_to_decimal


async def add_history(
    lead_id: int, user: User | None, kind: LeadHistoryKind, description: str
) -> LeadHistory:
    return await LeadHistory.create(
        lead_id=lead_id, user_id=user.id if user else None, kind=kind, description=description
    )


def _money(cents: int, currency: str) -> str:
    return f"{cents_to_decimal(cents)} {currency}"


async def history_of_changes(
    lead: Lead, before: dict[str, Any], others: list[str], user: User | None, setup: CrmSetup
) -> None:
    """One line per tracked change, then "updated" for the rest."""
    lines: list[tuple[LeadHistoryKind, str]] = []
    if before["progress"] != lead.progress:
        names = progress_names(setup)
        old, new = names[before["progress"]], names[lead.progress]
        kind = LeadHistoryKind.CLOSED if lead.progress >= CLOSED_FROM else LeadHistoryKind.PROGRESS
        lines.append((kind, f"Progress {old} -> {new}"))
    if (before["estimated_sale_cents"], before["currency"]) != (
        lead.estimated_sale_cents,
        lead.currency,
    ):
        old = _money(before["estimated_sale_cents"], before["currency"])
        lines.append(
            (
                LeadHistoryKind.ESTIMATED_SALE,
                f"Estimated sale {old} -> {_money(lead.estimated_sale_cents, lead.currency)}",
            )
        )
    if before["close_date"] != lead.close_date:
        old = before["close_date"].isoformat() if before["close_date"] else "none"
        new = lead.close_date.isoformat() if lead.close_date else "none"
        lines.append((LeadHistoryKind.CLOSE_DATE, f"Close date {old} -> {new}"))
    if before["owner_id"] != lead.owner_id:
        usernames: dict[int | None, str] = dict(
            await User.filter(
                id__in=[i for i in (before["owner_id"], lead.owner_id) if i]
            ).values_list("id", "username")
        )
        old = usernames.get(before["owner_id"], "nobody")
        lines.append(
            (
                LeadHistoryKind.OWNER_CHANGED,
                f"Owner {old} -> {usernames.get(lead.owner_id, 'nobody')}",
            )
        )
    if others:
        lines.append((LeadHistoryKind.UPDATED, "Updated: " + ", ".join(others)))
    if lines:
        await LeadHistory.bulk_create(
            [
                LeadHistory(
                    lead_id=lead.id, user_id=user.id if user else None, kind=k, description=d
                )
                for k, d in lines
            ]
        )
