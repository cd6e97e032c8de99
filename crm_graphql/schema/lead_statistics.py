"""Types of the lead statistics and of the lead pipeline. Each statistic is one SQL
aggregate over the leads the viewer can see that match the filter, run only when
selected; a pipeline runs one statement for its counts and sums and one for its leads,
each only when a step's selected fields need it, before the steps are handed out (so
their fields are plain values, and every lead's owner comes in one batch)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types.nodes import SelectedField, Selection
from tortoise.queryset import QuerySet

from crm_graphql.context import Info
from crm_graphql.models.leads import CLOSED_FROM, Lead
from crm_graphql.models.users import User
from crm_graphql.schema.common import USER_TYPE
from crm_graphql.schema.leads import CurrencyAmount, LeadProgress, lead_progress
from crm_graphql.services import lead_statistics as stats
from crm_graphql.services.listing import SortKey

if TYPE_CHECKING:
    from crm_graphql.schema.leads import LeadObjectType

LeadRef = Annotated["LeadObjectType", strawberry.lazy("crm_graphql.schema.leads")]


def _sales(group: stats.Group | None) -> list[CurrencyAmount]:
    if group is None:
        return []
    return [CurrencyAmount(currency=s.currency, amount=s.amount) for s in group.sales]


@strawberry.enum(description="The length of the periods new leads are counted in (UTC).")
class LeadTimeBucket(Enum):
    DAY = strawberry.enum_value("DAY", description="Calendar days.")
    WEEK = strawberry.enum_value(
        "WEEK", description="ISO weeks, Monday to Sunday, named by their Monday."
    )
    MONTH = strawberry.enum_value("MONTH", description="Calendar months, named by their first day.")


@strawberry.type(description="The leads that came in through one channel.")
class LeadsByChannel:
    channel: str = strawberry.field(description="The channel (empty when not set).")
    count: int = strawberry.field(description="Number of leads.")
    estimated_sales: list[CurrencyAmount] = strawberry.field(
        description="Sum of their estimated sales, one amount per currency, by currency code."
    )


@strawberry.type(description="The leads of one country.")
class LeadsByCountry:
    country: str = strawberry.field(description="The country (empty when not set).")
    count: int = strawberry.field(description="Number of leads.")
    estimated_sales: list[CurrencyAmount] = strawberry.field(
        description="Sum of their estimated sales, one amount per currency, by currency code."
    )


@strawberry.type(description="The leads one user owns.")
class LeadsByOwner:
    _owner_id: strawberry.Private[int | None]
    count: int = strawberry.field(description="Number of leads.")
    estimated_sales: list[CurrencyAmount] = strawberry.field(
        description="Sum of their estimated sales, one amount per currency, by currency code."
    )

    @strawberry.field(
        description="The owner; null for the unowned leads.", graphql_type=USER_TYPE | None
    )
    async def owner(self, info: Info) -> User | None:
        if self._owner_id is None:
            return None
        return await info.context.loaders.companies.user.load(self._owner_id)


@strawberry.type(description="How many leads were created in one period.")
class NewLeadsInPeriod:
    start: date = strawberry.field(description="The period's first day (UTC).")
    count: int = strawberry.field(description="Number of leads created in it.")


@strawberry.type(description="The leads at one progress step.")
class LeadFunnelStep:
    progress: LeadProgress = strawberry.field(description="The step.")
    count: int = strawberry.field(description="Number of leads at this step.")
    estimated_sales: list[CurrencyAmount] = strawberry.field(
        description="Sum of their estimated sales, one amount per currency, by currency code."
    )


@strawberry.type(
    description="Statistics over the leads you can see that match the filter, closed leads "
    "included (the lists' open-only default does not apply here). Amounts are per "
    "currency, never added across currencies. Each field is one SQL aggregate, computed "
    "only when selected."
)
class LeadStatistics:
    _leads: strawberry.Private[QuerySet[Lead]]

    @strawberry.field(description="Leads per channel, most first (then by channel).")
    async def by_channel(self) -> list[LeadsByChannel]:
        return [
            LeadsByChannel(channel=g.key, count=g.count, estimated_sales=_sales(g))
            for g in await stats.by_channel(self._leads)
        ]

    @strawberry.field(
        description="Won leads (progress 200) as a percentage of all the leads, rounded half "
        "up to 2 decimals; null when there are no leads (there is no rate to give)."
    )
    async def conversion_rate(self) -> Decimal | None:
        return stats.conversion_rate(*await stats.conversion(self._leads))

    @strawberry.field(description="Leads per country, most first (then by country).")
    async def by_country(self) -> list[LeadsByCountry]:
        return [
            LeadsByCountry(country=g.key, count=g.count, estimated_sales=_sales(g))
            for g in await stats.by_country(self._leads)
        ]

    @strawberry.field(
        description="Leads per owner, most first (then by owner id; the unowned leads last)."
    )
    async def by_owner(self) -> list[LeadsByOwner]:
        return [
            LeadsByOwner(_owner_id=g.key, count=g.count, estimated_sales=_sales(g))
            for g in await stats.by_owner(self._leads)
        ]

    @strawberry.field(
        description=f"The {stats.TOP} open leads (progress below {CLOSED_FROM}) with the "
        "largest estimated sales, largest first (then by id). Amounts are compared as "
        "numbers, whatever their currency.",
        graphql_type=list[LeadRef],
    )
    async def top_open(self) -> list[Lead]:
        return await stats.top_open(self._leads)

    @strawberry.field(
        description="Leads created per period, oldest first; periods without new leads "
        "are left out."
    )
    async def new_over_time(
        self,
        bucket: Annotated[
            LeadTimeBucket, strawberry.argument(description="The length of the periods.")
        ] = LeadTimeBucket.MONTH,
    ) -> list[NewLeadsInPeriod]:
        rows = await stats.new_over_time(self._leads, stats.Bucket[bucket.name])
        return [NewLeadsInPeriod(start=r.start, count=r.count) for r in rows]

    @strawberry.field(
        description="Every progress step in code order, steps without leads included, with "
        "the number of leads at it and their estimated sales."
    )
    async def funnel(self, info: Info) -> list[LeadFunnelStep]:
        groups = await stats.funnel(self._leads)
        setup = await info.context.loaders.leads.setup()
        return [
            LeadFunnelStep(
                progress=lead_progress(setup, g.key), count=g.count, estimated_sales=_sales(g)
            )
            for g in groups
        ]


# ---------------------------------------------------------------------------------------
# The pipeline


@strawberry.enum(description="How the leads inside each pipeline step are sorted.")
class LeadPipelineOrder(Enum):
    ESTIMATED_SALE = strawberry.enum_value(
        "ESTIMATED_SALE", description="Largest estimated sale first (amounts as numbers)."
    )
    UPDATED_AT = strawberry.enum_value("UPDATED_AT", description="Most recently changed first.")
    CLOSE_DATE = strawberry.enum_value(
        "CLOSE_DATE", description="Earliest estimated close date first; leads without one last."
    )


# Sale and last change largest/newest first; close date soonest first, through the
# NOT NULL close_key (99991231 without a date, so those come last).
PIPELINE_ORDERS: dict[LeadPipelineOrder, list[SortKey]] = {
    LeadPipelineOrder.ESTIMATED_SALE: [SortKey("estimated_sale_cents", descending=True)],
    LeadPipelineOrder.UPDATED_AT: [SortKey("updated_at", descending=True)],
    LeadPipelineOrder.CLOSE_DATE: [SortKey("close_key")],
}


@strawberry.type(description="One progress step of the pipeline, with its leads.")
class LeadPipelineStep:
    progress: LeadProgress = strawberry.field(
        description="The step: code, name and whether it is a closed one."
    )
    count: int = strawberry.field(description="Number of leads at this step.")
    estimated_sales: list[CurrencyAmount] = strawberry.field(
        description="Sum of their estimated sales, one amount per currency, by currency code."
    )
    leads: list[Lead] = strawberry.field(
        graphql_type=list[LeadRef],
        description="The first leads of this step, in the pipeline's order.",
    )
    has_more_leads: bool = strawberry.field(description="More leads follow the ones listed here.")


def selected_names(selections: list[Selection]) -> set[str]:
    """The names of the fields selected at this level, through fragments."""
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            names.add(selection.name)
        else:
            names |= selected_names(selection.selections)
    return names


def build_pipeline(
    steps: Sequence[int],
    setup: Any,
    totals: dict[int, stats.Group],
    leads: dict[int, list[Lead]],
    size: int,
) -> list[LeadPipelineStep]:
    """The steps from what the pipeline's statements returned (`leads` holds up to
    `size + 1` per step, the last one only telling that more follow)."""
    return [
        LeadPipelineStep(
            progress=lead_progress(setup, code),
            count=totals[code].count if code in totals else 0,
            estimated_sales=_sales(totals.get(code)),
            leads=leads.get(code, [])[:size],
            has_more_leads=len(leads.get(code, [])) > size,
        )
        for code in steps
    ]
