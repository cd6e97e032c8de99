"""Hypothesis strategies for the fuzz run's scalars (tests/test_fuzz.py).

hypothesis-graphql draws arbitrary strings and 32-bit ints; these aim at the edges
where servers break instead: ids that exist and ids out of any range, dates at the ends
of the calendar with offsets, money strings a Decimal column cannot hold, strings with
NUL bytes or longer than their column. Each strategy yields GraphQL value nodes."""

from __future__ import annotations

from typing import Any

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import nodes

Node = graphql.ValueNode

# Text without surrogates (not encodable as UTF-8 JSON); NUL bytes drawn on purpose below.
_TEXT = st.text(st.characters(codec="utf-8", max_codepoint=0xFFFF), max_size=20)


def _as_string_or_int(values: st.SearchStrategy[int]) -> st.SearchStrategy[Node]:
    """IDs are accepted as string and int literals alike."""
    return st.one_of(values.map(nodes.Int), values.map(nodes.String))


IDS: st.SearchStrategy[Node] = st.one_of(
    # Small ids: rows the demo world has, so the resolvers get past "not found".
    _as_string_or_int(st.integers(min_value=1, max_value=6)),
    _as_string_or_int(
        st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**20, -(2**63) - 1])
    ),
    st.sampled_from(["", " ", "1.5", "1e3", "abc", "0x10", "1\x00", "-0"]).map(nodes.String),
)

# GraphQL's Int is 32-bit; the literals beyond it must be refused in validation, before
# anything (the cost rule, page sizes) reads them as numbers.
INTS: st.SearchStrategy[Node] = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
    st.sampled_from([0, -1, 2**31 - 1, -(2**31), 2**31, 10**20, -(10**20)]).map(nodes.Int),
)

DATETIMES: st.SearchStrategy[Node] = st.one_of(
    st.sampled_from(
        [
            "2026-01-15T10:30:00Z",
            "2026-01-15T10:30:00+02:00",
            "2026-01-15T10:30:00",
            "0001-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59+00:00",
            "9999-12-31T23:59:59-01:00",
            "2026-02-30T00:00:00Z",
            "2026-01-15T25:00:00Z",
            "2026-01-15T10:30:00+24:00",
            "",
            "yesterday",
        ]
    ).map(nodes.String),
    st.datetimes().map(lambda d: nodes.String(d.isoformat())),
)

DATES: st.SearchStrategy[Node] = st.one_of(
    st.sampled_from(
        ["2026-01-15", "2024-02-29", "0001-01-01", "9999-12-31", "2023-02-29", "", "15.01.2026"]
    ).map(nodes.String),
    st.dates().map(lambda d: nodes.String(d.isoformat())),
)

DECIMALS: st.SearchStrategy[Node] = st.one_of(
    st.sampled_from(
        [
            "0",
            "0.01",
            "-1",
            "12345.67",
            "1.005",
            "99999999999999999999999999999",
            "1e400",
            "-1E-400",
            "NaN",
            "Infinity",
            "-Infinity",
            "",
            "1,5",
            "abc",
        ]
    ).map(nodes.String),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(nodes.String),
    st.integers(min_value=-(10**6), max_value=10**6).map(nodes.Int),
)

STRINGS: st.SearchStrategy[Node] = st.one_of(
    _TEXT.map(nodes.String),
    st.tuples(_TEXT, _TEXT).map(lambda p: nodes.String(f"{p[0]}\x00{p[1]}")),
    # Longer than the usual columns (60, 100, 255).
    st.sampled_from([61, 101, 256, 1001]).map(lambda n: nodes.String("x" * n)),
)


def _json_node(value: Any) -> Node:
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(_json_node(v) for v in value))
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_json_node(v))
            for k, v in value.items()
        )
    )


_JSON_NAMES = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,8}\Z")


def _json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(_JSON_NAMES, children, max_size=4)


JSON: st.SearchStrategy[Node] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    _json_containers,
    max_leaves=8,
).map(_json_node)

# An Upload can only arrive through a multipart request; in a JSON body every literal
# is wrong, and the server must say so as a client error.
UPLOADS: st.SearchStrategy[Node] = _TEXT.map(nodes.String)

CUSTOM_SCALARS: dict[str, st.SearchStrategy[Node]] = {
    "ID": IDS,
    "Int": INTS,
    "String": STRINGS,
    "DateTime": DATETIMES,
    "Date": DATES,
    "Decimal": DECIMALS,
    "JSON": JSON,
    "Upload": UPLOADS,
}
