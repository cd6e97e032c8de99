"""The list machinery every domain reuses: typed filters to SQL, keyset pagination and
per-parent limited fetching for nested lists.

Filters arrive as input objects whose attributes are either scalar filters
(`eq neq in_ lt lte gt gte contains is_null`) or nested entity filters, plus `and_`,
`or_` and `not_`. A `FilterSpec` maps attribute names to ORM lookup paths, so a
filter can follow relations (`company: {name: {contains: "acme"}}`).

specs.py holds what a domain declares, filters.py the translation to SQL, cursors.py
sort keys and cursors, pages.py the fetching, inputs.py what a client sent."""

from crm_graphql.services.listing.cursors import (
    SortKey,
    decode_cursor,
    encode_cursor,
    encode_cursor_values,
    keyset_q,
    order_args,
    sort_keys,
)
from crm_graphql.services.listing.filters import filter_q, scalar_q
from crm_graphql.services.listing.inputs import has_condition, input_fields, order_pairs
from crm_graphql.services.listing.pages import Page, count_per_parent, fetch_page, fetch_per_parent
from crm_graphql.services.listing.specs import (
    FilterSpec,
    ListError,
    Relation,
    ViewerCondition,
    VisibleIds,
)

__all__ = [
    "FilterSpec",
    "ListError",
    "Page",
    "Relation",
    "SortKey",
    "ViewerCondition",
    "VisibleIds",
    "count_per_parent",
    "decode_cursor",
    "encode_cursor",
    "encode_cursor_values",
    "fetch_page",
    "fetch_per_parent",
    "filter_q",
    "has_condition",
    "input_fields",
    "keyset_q",
    "order_args",
    "order_pairs",
    "scalar_q",
    "sort_keys",
]
