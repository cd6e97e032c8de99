"""Duplicate detection (issue 18): records that match another of their kind by a rule
(same name ignoring case and accents, same fiscal id, same website domain, same e-mail,
same phone digits), compared on the key columns the models keep (models/matching.py).

The caller passes the viewer's visibility `Q` (services sit below permissions): a
record the viewer cannot see is never a candidate, nor counted in a group."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from tortoise.expressions import Q
from tortoise.functions import Count

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.leads import Lead
from crm_graphql.models.matching import MatchKeys
from crm_graphql.services.orm import compiled, lookup_q

# Candidates of one record, at most (the strongest first).
MAX_CANDIDATES = 50
# Records listed per group, at most (a group's `size` counts them all).
MAX_GROUP_RECORDS = 20


class DuplicateEntity(StrEnum):
    COMPANY = "COMPANY"
    CONTACT = "CONTACT"
    LEAD = "LEAD"


class DuplicateRule(StrEnum):
    NAME = "NAME"
    FISCAL_ID = "FISCAL_ID"
    WEBSITE_DOMAIN = "WEBSITE_DOMAIN"
    EMAIL = "EMAIL"
    PHONE = "PHONE"


@dataclass(frozen=True)
class RuleSpec:
    rule: DuplicateRule
    # Key columns compared with each other: a phone matches a phone or a mobile.
    columns: tuple[str, ...]
    # How sure a match by this rule alone is, in percent.
    weight: int


MODELS: dict[DuplicateEntity, type[MatchKeys]] = {
    DuplicateEntity.COMPANY: Company,
    DuplicateEntity.CONTACT: Contact,
    DuplicateEntity.LEAD: Lead,
}

RULES: dict[DuplicateEntity, tuple[RuleSpec, ...]] = {
    DuplicateEntity.COMPANY: (
        RuleSpec(DuplicateRule.FISCAL_ID, ("fiscal_key",), 95),
        RuleSpec(DuplicateRule.NAME, ("name_key",), 80),
        RuleSpec(DuplicateRule.WEBSITE_DOMAIN, ("domain_key",), 60),
    ),
    DuplicateEntity.CONTACT: (
        RuleSpec(DuplicateRule.EMAIL, ("email_key",), 90),
        RuleSpec(DuplicateRule.PHONE, ("phone_key", "mobile_key"), 60),
        RuleSpec(DuplicateRule.NAME, ("name_key",), 50),
    ),
    DuplicateEntity.LEAD: (
        RuleSpec(DuplicateRule.EMAIL, ("email_key",), 90),
        RuleSpec(DuplicateRule.PHONE, ("phone_key", "mobile_key"), 70),
    ),
}


def score(rules: list[DuplicateRule], entity: DuplicateEntity) -> int:
    """0-100: the chance that at least one matching rule is right, taking each as
    independent evidence (two weak matches make a stronger one)."""
    weights = {spec.rule: spec.weight for spec in RULES[entity]}
    miss = 1.0
    for rule in rules:
        miss *= 1 - weights[rule] / 100
    return round(100 * (1 - miss))


def _keys(record: MatchKeys, spec: RuleSpec) -> set[str]:
    return {getattr(record, c) for c in spec.columns} - {""}


@dataclass
class Candidate:
    record: Any
    rules: list[DuplicateRule]
    score: int


async def candidates(
    entity: DuplicateEntity, visible: Q, target: MatchKeys, limit: int = MAX_CANDIDATES
) -> list[Candidate]:
    """The visible records that match `target` by any rule, strongest first: one
    statement (an OR of indexed key comparisons)."""
    model = MODELS[entity]
    conditions: list[Q] = []
    for spec in RULES[entity]:
        keys = sorted(_keys(target, spec))
        for column in spec.columns if keys else ():
            conditions.append(lookup_q({f"{column}__in": keys}))
    if not conditions:
        return []
    found = await model.filter(visible).filter(Q(*conditions, join_type="OR")).exclude(id=target.pk)
    result = []
    for record in found:
        rules = [spec.rule for spec in RULES[entity] if _keys(record, spec) & _keys(target, spec)]
        result.append(Candidate(record, rules, score(rules, entity)))
    result.sort(key=lambda c: (-c.score, c.record.pk))
    return result[:limit]


@dataclass
class Group:
    rule: DuplicateRule
    key: str
    size: int
    score: int
    records: list[Any] = field(default_factory=list)
    cursor: str = ""


def _cursor(position: int, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["dup", position, key])).decode().rstrip("=")


def _decode(cursor: str, positions: int) -> tuple[int, str]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raw = None
    if (
        not isinstance(raw, list)
        or len(raw) != 3
        or raw[0] != "dup"
        or not isinstance(raw[1], int)
        or not 0 <= raw[1] < positions
        or not isinstance(raw[2], str)
        or len(raw[2]) > 255
    ):
        raise FieldError("after", ErrorCode.INVALID, "The cursor is not valid.")
    return raw[1], raw[2]


@dataclass
class GroupPage:
    groups: list[Group]
    has_next: bool


async def _shared_keys(
    model: type[MatchKeys], visible: Q, spec: RuleSpec, after: str | None, limit: int
) -> list[tuple[str, int]]:
    """(key, number of visible records) of the keys two or more visible records share
    by `spec`, in key order after `after`: one statement. Over two columns (phone or
    mobile), the visible rows and their key columns are the domain's own query as a CTE
    read once per column, and a record counts once per key."""
    if len(spec.columns) == 1:
        # One column: the ORM's GROUP BY over the visible rows, which PostgreSQL can
        # read in key order from the column's index and stop after `limit` groups.
        column = spec.columns[0]
        visible_rows = model.filter(visible).exclude(**{column: ""})
        if after is not None:
            visible_rows = visible_rows.filter(**{f"{column}__gt": after})
        shared = (
            await visible_rows.annotate(size=Count("id"))
            .group_by(column)
            .filter(size__gt=1)
            .order_by(column)
            .limit(limit)
            .values(column, "size")
        )
        return [(str(row[column]), int(row["size"])) for row in shared]
    rows_sql, params, connection = compiled(
        model.filter(visible).values("id", *spec.columns), ordered=False
    )
    postgres = connection.capabilities.dialect == "postgres"
    branches = " UNION ALL ".join(
        f"SELECT id, {c} AS k FROM v WHERE {c} <> ''"  # noqa: S608  (names are the model's)
        for c in spec.columns
    )
    counted = "COUNT(DISTINCT id)"
    mark = f"${len(params) + 1}" if postgres else "?"
    where = f"WHERE k > {mark} " if after is not None else ""
    sql = (
        f"WITH v AS ({rows_sql}) SELECT k, {counted} AS size "  # noqa: S608  (names are the model's)
        f"FROM ({branches}) t {where}GROUP BY k HAVING {counted} > 1 "
        f"ORDER BY k LIMIT {int(limit)}"
    )
    found = (await connection.execute_query(sql, [*params, *([after] if after else [])]))[1]
    return [(str(row["k"]), int(row["size"])) for row in found]


async def groups(entity: DuplicateEntity, visible: Q, first: int, after: str | None) -> GroupPage:
    """Keys shared by two or more visible records, as groups, by rule (in `RULES`
    order) then key: one statement per rule reached, then one per rule on the page for
    its groups' records. Keyset pages: the cursor is (rule, key)."""
    model = MODELS[entity]
    specs = RULES[entity]
    start, last_key = _decode(after, len(specs)) if after else (0, None)
    found: list[Group] = []
    for position in range(start, len(specs)):
        if len(found) > first:
            break
        spec = specs[position]
        since = last_key if position == start else None
        for key, size in await _shared_keys(model, visible, spec, since, first + 1 - len(found)):
            found.append(
                Group(
                    spec.rule, key, size, score([spec.rule], entity), cursor=_cursor(position, key)
                )
            )
    page, has_next = found[:first], len(found) > first
    for spec in specs:
        by_key = {g.key: g for g in page if g.rule == spec.rule}
        if not by_key:
            continue
        matching = Q(*(lookup_q({f"{c}__in": list(by_key)}) for c in spec.columns), join_type="OR")
        for record in await model.filter(visible).filter(matching).order_by("id"):
            for key in _keys(record, spec) & by_key.keys():
                if len(by_key[key].records) < MAX_GROUP_RECORDS:
                    by_key[key].records.append(record)
    return GroupPage(page, has_next)
