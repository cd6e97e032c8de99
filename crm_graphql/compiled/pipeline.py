"""The lead pipeline (`leadPipeline`) as one statement: the resolver's set of leads
(`visible_leads_q` and the `leads` filter, every status; read as `id IN (the set)` when
the filter joins another table, as services.lead_statistics reads it) as a common table
expression, and per step shown (`pipeline_steps`, in code order) a JSON object:

- `count` and `estimatedSales` from one GROUP BY (progress, currency) over the set,
  computed once (MATERIALIZED): the executor's `pipeline_totals`, which folds the same
  groups; amounts are the cents summed, printed as `cents_to_decimal` does, by currency
  code (code points);
- `leads`: the step's first `first` leads in the pipeline's order (`PIPELINE_ORDERS`,
  with `sort_keys`' id tie-breaker), each the Lead object the `leads` root builds;
- `hasMoreLeads`: whether the step has more than `first` leads (a count that stops at
  `first + 1` rows: no order needed);
- `progress` as a lead's (CRM setup's name, or the default).

Bad input (a page size over the cap, a bad filter) is Unsupported: the executor gives
its error. `run.py` runs the statement (and encodes nested cursors in the leads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.queryset import QuerySet

from crm_graphql.compiled.plan import PipelineRootPlan, ProgressPlan, StepRows, Typename
from crm_graphql.compiled.sql import Unsupported, literal, quote
from crm_graphql.models.leads import Lead
from crm_graphql.schema.common import page_size
from crm_graphql.services.auth import Viewer
from crm_graphql.services.lead_statistics import scoped
from crm_graphql.services.listing import ListError, SortKey, filter_q, sort_keys
from crm_graphql.services.orm import joins_other_tables
from crm_graphql.settings import Limits

if TYPE_CHECKING:
    from crm_graphql.compiled.run import _Builder

__all__ = ["PipelineQuery", "pipeline_query", "pipeline_sql"]

_COLUMNS = Lead._meta.fields_db_projection


@dataclass(frozen=True)
class PipelineQuery:
    """What the resolver computes from the arguments: the set, the steps' lead order,
    the number of leads per step and the steps shown."""

    leads: QuerySet[Lead]
    keys: list[SortKey]
    size: int
    steps: tuple[int, ...]


def pipeline_query(
    root: PipelineRootPlan, viewer: Viewer, limits: Limits, args: dict[str, Any]
) -> PipelineQuery:
    spec = root.spec
    size = page_size(
        args.get("first"), limits.nested_page_size_default, limits.nested_page_size_max
    )
    leads = spec.base(viewer)
    flt = args.get("filter")
    if flt is not None:
        try:
            leads = leads.filter(filter_q(flt, spec.filter_spec, model=Lead, viewer=viewer))
        except ListError as exc:
            raise Unsupported(str(exc)) from None
    # A filter that joins another table could repeat a lead (lead_statistics._rows_sql).
    if joins_other_tables(leads):
        leads = scoped(leads)
    keys = sort_keys(None, spec.orders[args["order_by"]])
    return PipelineQuery(leads, keys, size, spec.steps(bool(args.get("include_closed"))))


def _order(keys: list[SortKey], alias: str) -> str:
    return ", ".join(
        f"{alias}.{quote(_COLUMNS[k.column])} {'DESC' if k.descending else 'ASC'}" for k in keys
    )


def pipeline_sql(builder: _Builder, root: PipelineRootPlan, query: PipelineQuery, rows: str) -> str:
    """The statement (its one row's `crm_node`: the JSON array of the steps) over `rows`,
    the set's SQL (its parameters adopted by `builder`)."""
    d = builder.d
    progress = quote(_COLUMNS["progress"])
    currency = quote(_COLUMNS["currency"])
    cents = quote(_COLUMNS["estimated_sale_cents"])
    grouped = any(
        what == "count" or (isinstance(what, StepRows) and what.name == "estimatedSales")
        for _, what in root.entries
    )
    ctes = f"crm_s AS NOT MATERIALIZED ({rows})"
    if grouped:
        ctes += (
            f", crm_g AS MATERIALIZED (SELECT {progress}, {currency}, COUNT(*) AS crm_n, "  # noqa: S608
            f"SUM({cents}) AS crm_cents FROM crm_s GROUP BY {progress}, {currency})"
        )
    steps = [_step(builder, root, query, code) for code in query.steps]
    return f"WITH {ctes} SELECT {d.array(steps)} AS crm_node"


def _step(builder: _Builder, root: PipelineRootPlan, query: PipelineQuery, code: int) -> str:
    """One step's JSON object; its leads (when selected) are the rows it aggregates."""
    d = builder.d
    progress = quote(_COLUMNS["progress"])
    currency = quote(_COLUMNS["currency"])
    size = query.size
    pairs: list[tuple[str, str]] = []
    extras: list[str] = []
    leads = False
    for key, what in root.entries:
        if isinstance(what, Typename):
            pairs.append((key, literal(what.name)))
        elif isinstance(what, ProgressPlan):
            pairs.append((key, builder.progress_of(str(int(code)), what)))
        elif what == "count":
            total = f"(SELECT SUM(g.crm_n) FROM crm_g g WHERE g.{progress} = {int(code)})"  # noqa: S608
            pairs.append((key, f"CAST(COALESCE({total}, 0) AS INTEGER)"))
        elif what == "hasMoreLeads":
            more = (
                f"(SELECT COUNT(*) FROM (SELECT 1 FROM crm_s c WHERE c.{progress} = {int(code)} "  # noqa: S608
                f"LIMIT {size + 1}) c) > {size}"
            )
            pairs.append((key, d.condition(more)))
        elif isinstance(what, StepRows) and what.name == "estimatedSales":
            body, _ = builder.object(what.target, "x", "x", 1)
            # By code point, as Python sorts the currencies (SQLite: the subquery's order).
            order = f'x.{currency} COLLATE "C"' if d.postgres else ""
            sums = (
                f"(SELECT {d.agg(body, order, '1 = 1')} FROM (SELECT g.* FROM crm_g g "  # noqa: S608
                f"WHERE g.{progress} = {int(code)} ORDER BY g.{currency}) x)"
            )
            pairs.append((key, d.nested(sums)))
        elif isinstance(what, StepRows):
            leads = True
            body, more = builder.object(what.target, "p", "p" if d.postgres else "b", 1)
            extras.append(more)
            order = _order(query.keys, "p") if d.postgres else ""
            pairs.append((key, d.agg(body, order, "1 = 1")))
        else:
            raise Unsupported(f"{what!r}")
    step = d.obj(pairs)
    if not leads:
        return d.nested(f"(SELECT {step})")
    page = (
        f"SELECT b.*{''.join(extras)} FROM crm_s b WHERE b.{progress} = {int(code)} "  # noqa: S608
        f"ORDER BY {_order(query.keys, 'b')} LIMIT {size}"
    )
    return d.nested(f"(SELECT {step} FROM ({page}) p)")  # noqa: S608
