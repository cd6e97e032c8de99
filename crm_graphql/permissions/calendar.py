"""Which calendar events a user sees (SPEC §7, §9).

Events belong to one user, and only that user lists them. An event about an object
(a lead alarm, an invoice payment reminder) is shown only while its owner may see that
object, by the object's own rule, in SQL: losing access to the lead or invoice hides the
event (and its object id) from the calendar and the .ics feed alike. An event about a
kind of object without a rule here is hidden (the stricter choice)."""

from __future__ import annotations

from collections.abc import Callable

from tortoise.expressions import Q, Subquery

from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.services.auth import Viewer


def _invoices(viewer: Viewer) -> Subquery:
    return Subquery(Invoice.filter(visible_invoices_q(viewer)).values("id"))


def _leads(viewer: Viewer) -> Subquery:
    return Subquery(Lead.filter(visible_leads_q(viewer)).values("id"))


# Per object type of an event: the ids of those objects the viewer can see.
VISIBLE_OBJECTS: dict[str, Callable[[Viewer], Subquery]] = {
    "Invoice": _invoices,
    "Lead": _leads,
}


def visible_events_q(viewer: Viewer) -> Q:
    """The viewer's own events, those about an object only while the object is visible."""
    own = Q(owner_id=viewer.user.id)
    if viewer.is_superadmin:
        return own  # sees every object; never OR an empty Q()
    about_nothing = Q(object_type="") | Q(object_id__isnull=True)
    about_visible = [
        Q(object_type=kind, object_id__in=ids(viewer)) for kind, ids in VISIBLE_OBJECTS.items()
    ]
    return own & Q(about_nothing, *about_visible, join_type=Q.OR)
