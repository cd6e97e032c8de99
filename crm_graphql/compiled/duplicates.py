"""`duplicates(type:, id:)` as one statement: the visible records that share a key with
the visible record `id` (services.duplicates.candidates), strongest first.

The matching compares the key columns every write stores (models/matching.py): a rule
matches when a non-empty key of the record equals one of the target's keys of that
rule (`RuleSpec.columns`: a phone matches a phone or a mobile). The rules a record
matches are a bit mask; the rules list and the score of each mask are made here by
`services.duplicates.score` itself (a CASE table), so no rule is written twice. Order:
score descending, then id; at most `MAX_CANDIDATES`. Each record is the entity's
object plan (the other entities' fields are null, as the resolver's `_one` gives).

An entity the viewer may not list (the resolver's FORBIDDEN), a malformed id, or a
target the viewer cannot see (its NOT_FOUND, found by the statement): the executor
answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from tortoise.queryset import QuerySet

from crm_graphql.compiled.plan import DuplicatesRootPlan, ObjectPlan, Typename
from crm_graphql.compiled.sql import Unsupported, literal, quote
from crm_graphql.ids import id_number
from crm_graphql.schema.common import model_enum
from crm_graphql.services.auth import Viewer
from crm_graphql.services.duplicates import (
    MAX_CANDIDATES,
    MODELS,
    RULES,
    DuplicateEntity,
    score,
)

if TYPE_CHECKING:
    from crm_graphql.compiled.run import _Builder

__all__ = ["duplicate_sets", "duplicates_sql"]


def duplicate_sets(
    root: DuplicatesRootPlan, viewer: Viewer, args: dict[str, Any]
) -> tuple[DuplicateEntity, QuerySet[Any], QuerySet[Any]]:
    """The entity, the target (the visible record `id`) and the visible records."""
    entity = model_enum(DuplicateEntity, args["type"])
    if not viewer.has(root.spec.bit(entity)):
        raise Unsupported("the entity's list is refused")
    number = id_number(args.get("id"))
    if number is None:
        raise Unsupported("not an id")
    model = MODELS[entity]
    visible = root.spec.visible(viewer, entity)
    return entity, model.filter(visible).filter(id=number), model.filter(visible)


def duplicates_sql(
    builder: _Builder, root: DuplicatesRootPlan, entity: DuplicateEntity, target: str, rows: str
) -> str:
    """The statement: `crm_found` (the target is visible) and `crm_node` (the JSON array
    of the candidates) over the target's and the visible records' SQL (their parameters
    adopted by `builder`; `target` twice)."""
    d = builder.d
    model = MODELS[entity]
    column = model._meta.fields_db_projection
    specs = RULES[entity]
    masks = []
    for i, spec in enumerate(specs):
        equal = [
            f"(r.{quote(column[one])} <> '' AND r.{quote(column[one])} = t.{quote(column[other])})"
            for one in spec.columns
            for other in spec.columns
        ]
        masks.append(f"CASE WHEN {' OR '.join(equal)} THEN {1 << i} ELSE 0 END")
    scores, rules = [], []
    for mask in range(1, 1 << len(specs)):
        matched = [spec.rule for i, spec in enumerate(specs) if mask & (1 << i)]
        scores.append(f"WHEN {mask} THEN {int(score(matched, entity))}")
        text = orjson.dumps([rule.value for rule in matched]).decode()
        rules.append(f"WHEN {mask} THEN {_json(builder, literal(text))}")
    pk = quote(model._meta.db_pk_column)
    base = (
        f"SELECT r.*, {' + '.join(masks)} AS crm_mask FROM ({rows}) r, ({target}) t "  # noqa: S608
        f"WHERE r.{pk} <> t.{pk}"
    )
    order = f"crm_score DESC, {pk} ASC"
    page = (
        f"SELECT b.*, CASE b.crm_mask {' '.join(scores)} END AS crm_score "  # noqa: S608
        f"FROM ({base}) b WHERE b.crm_mask > 0 ORDER BY {order} LIMIT {MAX_CANDIDATES}"
    )
    inner = "c" if d.postgres else "m"
    pairs: list[tuple[str, str]] = []
    extras: list[str] = []
    for key, what in root.entries:
        if isinstance(what, Typename):
            pairs.append((key, literal(what.name)))
        elif what == "id":
            pairs.append((key, d.text(f"c.{pk}")))
        elif what == "score":
            pairs.append((key, "c.crm_score"))
        elif what == "rules":
            pairs.append((key, f"CASE c.crm_mask {' '.join(rules)} END"))
        elif isinstance(what, ObjectPlan) and what.spec.model is model:
            body, more = builder.object(what, "c", inner, 1)
            pairs.append((key, body))
            extras.append(more)
        elif isinstance(what, ObjectPlan):
            pairs.append((key, "NULL"))  # another entity's field
        else:
            raise Unsupported(f"{what!r}")
    ordered = f"c.crm_score DESC, c.{pk} ASC"
    if d.postgres:
        source = page
    else:
        # The records' nested levels beside them, for the page's rows only, in order.
        source = (
            f"SELECT m.*{''.join(extras)} FROM ({page}) m "  # noqa: S608
            f"ORDER BY m.crm_score DESC, m.{pk} ASC"
        )
    agg = d.agg(d.obj(pairs), ordered if d.postgres else "", "1 = 1")
    found = f"(SELECT COUNT(*) FROM ({target}) f)"  # noqa: S608
    return f"SELECT {found} AS crm_found, {agg} AS crm_node FROM ({source}) c"  # noqa: S608


def _json(builder: _Builder, text: str) -> str:
    return f"CAST({text} AS json)" if builder.d.postgres else f"json({text})"
