"""Running a plan: one statement per root field (a second one only for `totalCount`),
in which the database builds each row's JSON, nested objects and nested connections
included; the server adds the root page's cursors and page info and never completes
the fields one by one. Nothing here decides access: the rules are the functions of
crm_graphql/permissions/ (through the catalog and the roots), applied in the SQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import GraphQLError
from graphql.execution import Executor
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.types.arguments import convert_arguments
from tortoise import fields as tfields
from tortoise.expressions import Q, RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm_graphql.compiled.catalog import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    ID,
    JSON,
    MONEY,
    PERCENT,
    TYPES,
    AtLeast,
    Bits,
    Column,
    Count,
    Encoded,
    Expr,
    Flag,
    Linked,
    Nested,
    RootPath,
    Stale,
    StepName,
    Tagged,
    Total,
    TypeSpec,
    Visible,
    is_empty,
)
from crm_graphql.compiled.duplicates import duplicate_sets, duplicates_sql
from crm_graphql.compiled.pipeline import pipeline_query, pipeline_sql
from crm_graphql.compiled.plan import (
    AnyRootPlan,
    ConnectionPlan,
    CustomFieldsPlan,
    DuplicatesRootPlan,
    EdgesPlan,
    FlagsPlan,
    GuardedPlan,
    NestedPlan,
    ObjectPlan,
    PageInfoPlan,
    PipelineRootPlan,
    PlanCache,
    ProgressPlan,
    RelatedPlan,
    RootPlan,
    RowsPlan,
    SamePlan,
    SinglePlan,
    SingleRootPlan,
    StepRows,
    SumsPlan,
    Typename,
    build_plan,
    document_key,
    permission_checker,
    permission_class,
    variable_shape,
)
from crm_graphql.compiled.roots import ListSpec, SetupListSpec, StepsSpec
from crm_graphql.compiled.sql import Dialect, Params, Unsupported, is_fallback, literal, quote
from crm_graphql.compiled.totals import TAX, total_sql
from crm_graphql.errors import ApiError
from crm_graphql.ids import id_number
from crm_graphql.models.customfields import CustomFieldSection, CustomFieldValue
from crm_graphql.models.setup import CrmSetup
from crm_graphql.models.users import PERMISSION_BITS, Assignment, Profile
from crm_graphql.permissions.companies import NOTHING
from crm_graphql.schema.common import page_size
from crm_graphql.schema.customfields import WITHOUT_SECTION
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import (
    ListError,
    SortKey,
    decode_cursor,
    encode_cursor,
    encode_cursor_values,
    filter_q,
    keyset_q,
    order_args,
    order_pairs,
    sort_keys,
)
from crm_graphql.services.orm import compiled, from_row, lookup_q
from crm_graphql.services.postgres_engine import CrmAsyncpgClient
from crm_graphql.services.setup import SETUP_ID
from crm_graphql.settings import Limits

__all__ = ["Compiled", "run_compiled"]

log = logging.getLogger("crm_graphql")


def _db(spec: TypeSpec, column: str) -> str:
    return quote(spec.model._meta.fields_db_projection[column])


# Definitions in services.customfields.fields_for's order.
CUSTOM_FIELD_ORDER = [SortKey("position"), SortKey("id")]


def _order(spec: TypeSpec, alias: str, keys: list[SortKey] | Any, binary: bool = False) -> str:
    """ORDER BY `keys`; `binary` (PostgreSQL): text by code point, as Python sorts."""

    def collated(column: str) -> str:
        text = binary and spec.model._meta.fields_map[column].field_type is str
        return ' COLLATE "C"' if text else ""

    return ", ".join(
        f"{alias}.{_db(spec, k.column)}{collated(k.column)} {'DESC' if k.descending else 'ASC'}"
        for k in keys
    )


# Sort key columns whose cursor value is the column's own (CharField: not its enum
# subclasses, whose json_value is the enum's value).
_PLAIN = (tfields.IntField, tfields.BigIntField, tfields.SmallIntField)


class _Builder:
    """The SQL of one statement: JSON objects over a row alias, nested levels as
    correlated subqueries, parameters in `params`."""

    def __init__(
        self,
        dialect: Dialect,
        viewer: Viewer,
        limits: Limits,
        variables: VariableValues,
        root_path: str = "",
    ) -> None:
        self.d = dialect
        self.params = Params()
        self.viewer = viewer
        self.limits = limits
        self.variables = variables
        # The request's root path (the ASGI scope's), which download URLs start with.
        self.root_path = root_path
        self.columns = 0
        # The time a lead's `stale` is measured against (the resolver's datetime.now).
        self.now = datetime.now(UTC)

    def flags(
        self, spec: TypeSpec, plan: FlagsPlan, outer: str, inner: str, extras: list[str]
    ) -> str:
        pairs: list[tuple[str, str]] = []
        for key, what in plan.entries:
            if isinstance(what, Typename):
                pairs.append((key, literal(what.name)))
                continue
            pairs.append((key, self.flag(spec, plan.flags.rules[what], outer, inner, extras)))
        return self.d.obj(pairs)

    def flag(
        self,
        spec: TypeSpec,
        rule: Callable[[Viewer], Q | bool],
        outer: str,
        inner: str,
        extras: list[str],
    ) -> str:
        """A JSON boolean: whether the rule selects the row (or its constant). On SQLite
        the rule is a column beside the row (see `object`): a rule with subqueries (a
        file's) nested inside the object would overflow its parser's stack."""
        decided = rule(self.viewer)
        if isinstance(decided, bool):
            return self.d.condition("1 = 1" if decided else "1 = 0")
        if self.d.postgres:
            return self.d.condition(self.row_in(spec.model, outer, decided))
        self.columns += 1
        name = f"crm_j{self.columns}"
        extras.append(f", {self.row_in(spec.model, inner, decided)} AS {name}")
        return self.d.condition(f"{outer}.{name}")

    def root_path_url(self, spec: TypeSpec, url: RootPath, alias: str) -> str:
        prefix = self.params.add(self.root_path + url.prefix)
        row_id = self.d.text(f"{alias}.{_db(spec, 'id')}")
        return f"{self.d.text(prefix)} || {row_id}"

    def ruled(self, model: type[Model], alias: str, rule: Visible | None) -> tuple[str, str]:
        """The FROM item of `model`'s rows as `alias` and the condition (" AND ...") that
        applies its rule.

        PostgreSQL: the rows are Tortoise's SQL of `model.filter(rule)`, which the
        planner flattens, so the rule's conditions apply to the row itself (`id IN
        (every visible id)` inside a correlated subquery is a plain subplan when the id
        set is over work_mem: a scan of it per row). SQLite: the rule as a correlated
        EXISTS on the row's key (see `row_in`)."""
        table = f"{quote(model._meta.db_table)} {alias}"
        q = rule(self.viewer) if rule is not None else None
        if q is None or is_empty(q):
            return table, ""
        if not self.d.postgres:
            return table, " AND " + self.row_in(model, alias, q)
        # `OR <nothing>` keeps any `IN (subquery)` of the rule out of the planner's
        # sublink pull-up: it stays one hashed subplan for the whole statement instead of
        # a semi join redone for each parent row (the constant OR folds away afterwards).
        sql, params, _ = compiled(model.filter(Q(q, NOTHING, join_type="OR")), ordered=False)
        return f"({self.params.adopt(sql, params, True)}) {alias}", ""

    def row_in(self, model: type[Model], alias: str, q: Q) -> str:
        """The row `alias` is one the rule `q` selects: a correlated EXISTS on its key,
        so each row costs a key lookup (and the joins of the rule), where `IN (the
        rule's rows)` would build the set of every row the viewer may see."""
        if is_empty(q):
            return "1 = 1"
        pk = model._meta.pk_attr
        this = RawSQL(f"{alias}.{quote(model._meta.db_pk_column)}")
        same_row = lookup_q({pk: this})
        sql, params, _ = compiled(model.filter(Q(q, same_row)).values(pk), ordered=False)
        # PostgreSQL would hash the rule's every row once per statement instead (the
        # whole table's rule, for a page of rows); OFFSET 0 keeps it a lookup per row.
        offset = " OFFSET 0" if self.d.postgres else ""
        return f"EXISTS ({self.params.adopt(sql, params, self.d.postgres)}{offset})"

    def column(self, spec: TypeSpec, column: Column, alias: str) -> str:
        return self.formatted(f"{alias}.{_db(spec, column.column)}", column.kind)

    def formatted(self, expr: str, kind: str) -> str:
        """A column or expression as the JSON value of the API's scalar format."""
        if kind == JSON:
            return self.d.nested(expr)
        if kind == PERCENT:
            return self.d.percent(expr)
        if kind == DECIMAL:
            return self.d.decimal_text(expr)
        if kind == ID:
            return self.d.text(expr)
        if kind == BOOL:
            return self.d.boolean(expr)
        if kind == DATE:
            return self.d.date(expr)
        if kind == MONEY:
            return self.d.money(expr)
        if kind == DATETIME:
            return self.d.datetime(expr)
        return expr

    def object(self, plan: ObjectPlan, outer: str, inner: str, depth: int) -> tuple[str, str]:
        """A row's JSON object over the alias `outer`, and the columns (", x AS crm_jN")
        the row's subquery (alias `inner`) must add: on SQLite nested levels are
        computed there, beside the row, so its parser never sees them nested inside the
        object (its stack is shallow). PostgreSQL takes them inline, over `outer` (no
        extra columns): a level's subqueries then run only for the rows it keeps."""
        pairs: list[tuple[str, str]] = []
        extras: list[str] = []
        row = outer if self.d.postgres else inner
        guards: dict[str, Callable[[Viewer], Q | bool]] = {}
        for key, what in plan.entries:
            if isinstance(what, GuardedPlan):
                guards[key], what = what.rule, what.inner
            if isinstance(what, Typename):
                pairs.append((key, literal(what.name)))
                continue
            if isinstance(what, Column):
                pairs.append((key, self.column(plan.spec, what, outer)))
                continue
            if isinstance(what, StepName):
                code = f"{outer}.{_db(plan.spec, what.column)}"
                pairs.append((key, self.step_name(code, what.names)))
                continue
            if isinstance(what, Expr):
                pairs.append((key, self.formatted(what.sql.format(t=outer), what.kind)))
                continue
            if isinstance(what, FlagsPlan):
                pairs.append((key, self.flags(plan.spec, what, outer, inner, extras)))
                continue
            if isinstance(what, Flag):
                pairs.append((key, self.flag(plan.spec, what.rule, outer, inner, extras)))
                continue
            if isinstance(what, RootPath):
                pairs.append((key, self.root_path_url(plan.spec, what, outer)))
                continue
            if isinstance(what, Encoded):
                # The column's value; _cursors makes the text from it.
                pairs.append((key, f"{outer}.{_db(plan.spec, what.column)}"))
                continue
            if isinstance(what, SamePlan):
                body, more = self.object(what.target, outer, inner, depth)
                pairs.append((key, body))
                extras.append(more)
                continue
            if isinstance(what, Count | Total):
                if self.d.postgres:
                    pairs.append((key, self.scalar(plan.spec, what, row, depth)))
                    continue
                # A number or text: no JSON wrapping, but computed beside the row all
                # the same (a subquery's depth stays out of the object's).
                self.columns += 1
                name = f"crm_j{self.columns}"
                extras.append(f", {self.scalar(plan.spec, what, inner, depth)} AS {name}")
                pairs.append((key, f"{outer}.{name}"))
                continue
            if isinstance(what, AtLeast):
                column = f"{outer}.{_db(plan.spec, what.column)}"
                pairs.append((key, self.d.condition(f"{column} >= {what.value}")))
                continue
            if isinstance(what, Stale):
                pairs.append((key, self.stale(plan.spec, what, outer)))
                continue
            if isinstance(what, ProgressPlan):
                pairs.append((key, self.progress(plan.spec, what, outer)))
                continue
            if isinstance(what, SinglePlan):
                value = self.single(plan.spec, what, row, depth)
            elif isinstance(what, NestedPlan):
                value = self.nested(what, row, depth)
            elif isinstance(what, RowsPlan):
                value = self.rows(what, row, depth)
            elif isinstance(what, RelatedPlan):
                value = self.related(plan.spec, what, row, depth)
            elif isinstance(what, SumsPlan):
                value = self.sums(plan.spec, what, row, depth)
            elif isinstance(what, CustomFieldsPlan):
                value = self.custom_fields(plan.spec, what, row, depth)
            elif isinstance(what, Bits):
                value = self.bits(plan.spec, what, row)
            else:
                raise Unsupported(f"{what!r}")
            if self.d.postgres:
                pairs.append((key, value))
                continue
            self.columns += 1
            name = f"crm_j{self.columns}"
            extras.append(f", {value} AS {name}")
            pairs.append((key, self.d.nested(f"{outer}.{name}")))
        if guards:
            pairs = [
                (k, self.guarded(plan.spec, guards[k], v, outer, inner, extras))
                if k in guards
                else (k, v)
                for k, v in pairs
            ]
        return self.d.obj(pairs), "".join(extras)

    def guarded(
        self,
        spec: TypeSpec,
        rule: Callable[[Viewer], Q | bool],
        value: str,
        outer: str,
        inner: str,
        extras: list[str],
    ) -> str:
        """`value` for the rows the rule allows (catalog.Guarded); any other row fails
        the statement on purpose (`Dialect.fallback`): its refusal is the executor's
        error. On SQLite the rule is a column beside the row, as a flag's."""
        decided = rule(self.viewer)
        if decided is True:
            return value
        if decided is False:
            raise Unsupported("refused on every row")
        if self.d.postgres:
            allowed = self.row_in(spec.model, outer, decided)
        else:
            self.columns += 1
            name = f"crm_j{self.columns}"
            extras.append(f", {self.row_in(spec.model, inner, decided)} AS {name}")
            allowed = f"{outer}.{name}"
        refused = self.d.fallback(f"{outer}.{_db(spec, 'id')}")
        if self.d.postgres:
            refused = f"CAST({refused} AS json)"
        return f"CASE WHEN {allowed} THEN {value} ELSE {refused} END"

    def bits(self, spec: TypeSpec, bits: Bits, alias: str) -> str:
        """Permission bit names in PERMISSION_BITS order (catalog.Bits), a JSON array."""
        profiles = TypeSpec(Profile)
        links = TypeSpec(Assignment)
        rows = []
        for number, bit in enumerate(PERMISSION_BITS):
            column = _db(profiles, bit.lower())
            if bits.of_user:
                # services.auth.bits_for_users: any assignment's profile grants it.
                held = (
                    f"{alias}.{_db(spec, 'is_superadmin')} OR EXISTS (SELECT 1 FROM "  # noqa: S608
                    f"{quote(Assignment._meta.db_table)} a JOIN "
                    f"{quote(Profile._meta.db_table)} p ON p.{_db(profiles, 'id')} = "
                    f"a.{_db(links, 'profile_id')} WHERE a.{_db(links, 'user_id')} = "
                    f"{alias}.{_db(spec, 'id')} AND p.{column})"
                )
            else:
                held = f"{alias}.{column}"
            rows.append(f"SELECT {number} AS crm_n, {literal(bit)} AS crm_bit WHERE {held}")
        found = " UNION ALL ".join(rows) + " ORDER BY crm_n"
        return f"(SELECT {self.d.agg('b.crm_bit', 'b.crm_n', '1 = 1')} FROM ({found}) b)"  # noqa: S608

    def setup(self, column: str) -> str:
        """A column of the CRM setup row, its model default while there is no row (the
        resolvers' get_setup creates the row with the defaults)."""
        table = quote(CrmSetup._meta.db_table)
        value = f"(SELECT {quote(column)} FROM {table} WHERE id = {SETUP_ID})"  # noqa: S608
        default = CrmSetup._meta.fields_map[column].default
        if isinstance(default, int):
            return f"COALESCE({value}, {default})"
        return value

    def stale(self, spec: TypeSpec, stale: Stale, alias: str) -> str:
        progress = f"{alias}.{_db(spec, stale.progress)}"
        updated = f"{alias}.{_db(spec, stale.updated)}"
        days = self.setup("lead_stale_days")
        if self.d.postgres:
            # Whole days of 24 hours (timedelta(days=n)), whatever the session's zone.
            now = self.params.add(self.now)
            limit = f"CAST({now} AS timestamptz) - {days} * interval '24 hours'"
        else:
            # SQLite holds str(datetime) in UTC: the limit in the same text (the day
            # shift keeps the time of day and its fraction), compared as text.
            fraction = f".{self.now.microsecond:06d}" if self.now.microsecond else ""
            now = self.params.add(self.now.strftime("%Y-%m-%d %H:%M:%S"))
            limit = (
                f"strftime('%Y-%m-%d %H:%M:%S', {now}, '-' || {days} || ' days') "
                f"|| {literal(fraction + '+00:00')}"
            )
        return self.d.condition(f"{progress} < {stale.closed_from} AND {updated} < {limit}")

    def progress(self, spec: TypeSpec, plan: ProgressPlan, alias: str) -> str:
        return self.progress_of(f"{alias}.{_db(spec, plan.progress.column)}", plan)

    def progress_of(self, code: str, plan: ProgressPlan) -> str:
        """The progress object of the step `code` (SQL: a column or a constant)."""
        pairs: list[tuple[str, str]] = []
        for key, what in plan.entries:
            if isinstance(what, Typename):
                pairs.append((key, literal(what.name)))
            elif what == "code":
                pairs.append((key, code))
            elif what == "name":
                pairs.append((key, self.step_name(code, plan.progress.names)))
            else:
                pairs.append((key, self.d.condition(f"{code} >= {plan.progress.closed_from}")))
        return self.d.obj(pairs)

    def step_name(self, code: str, names: dict[int, str]) -> str:
        """A progress step's name: CRM setup's override, else its name in `names`."""
        setup = self.setup("lead_progress_names")
        if self.d.postgres:
            custom = f"CAST({setup} AS jsonb) ->> CAST({code} AS text)"
        else:
            custom = f"json_extract({setup}, '$.\"' || {code} || '\"')"
        cases = " ".join(f"WHEN {number} THEN {literal(name)}" for number, name in names.items())
        default = f"CASE {code} {cases} ELSE {self.d.text(code)} END"
        # `setup name or default name`: an empty override keeps the default.
        return f"COALESCE(NULLIF({custom}, ''), {default})"

    def setup_list(self, spec: SetupListSpec) -> str:
        """CRM setup's JSON list column, or the default when empty or without a row."""
        value = self.setup(spec.column)
        default = literal(orjson.dumps(list(spec.default)).decode())
        if self.d.postgres:
            stored = f"CAST({value} AS jsonb)"
            empty = f"COALESCE(jsonb_array_length({stored}), 0) = 0"
            return f"CASE WHEN {empty} THEN CAST({default} AS json) ELSE CAST({stored} AS json) END"
        empty = f"COALESCE(json_array_length({value}), 0) = 0"
        return f"CASE WHEN {empty} THEN json({default}) ELSE json({value}) END"

    def single(self, spec: TypeSpec, plan: SinglePlan, alias: str, depth: int) -> str:
        target = plan.target.spec.model
        r0, r = f"q{depth + 1}", f"r{depth + 1}"
        pk = quote(target._meta.db_pk_column)
        table, rule = self.ruled(target, r0, plan.relation.visible)
        where = f"{r0}.{pk} = {alias}.{_db(spec, plan.relation.fk)}{rule}"
        if self.d.postgres:
            body, _ = self.object(plan.target, r0, r0, depth + 1)
            return f"(SELECT {body} FROM {table} WHERE {where})"  # noqa: S608
        body, extras = self.object(plan.target, r, r0, depth + 1)
        row = f"SELECT {r0}.*{extras} FROM {table} WHERE {where}"  # noqa: S608
        return f"(SELECT {body} FROM ({row}) {r})"  # noqa: S608

    def rows(self, plan: RowsPlan, alias: str, depth: int) -> str:
        spec = plan.target.spec
        relation = plan.relation
        b, s = f"l{depth + 1}", f"s{depth + 1}"
        table = f"{quote(spec.model._meta.db_table)} {b}"
        if isinstance(relation, Tagged):
            # Sorted as Python sorts strings (the loader's order): by code point.
            order = _order(spec, b, relation.keys, binary=self.d.postgres)
            link = TypeSpec(relation.link)
            k = f"k{b}"
            source = (
                f"{quote(relation.link._meta.db_table)} {k} JOIN {table} "
                f"ON {b}.{quote(spec.model._meta.db_pk_column)} = {k}.{_db(link, relation.target)}"
            )
            where = f"{k}.{_db(link, relation.parent)} = {alias}.{quote('id')}"
        else:
            order = _order(spec, b, relation.keys)
            source = table
            where = f"{b}.{_db(spec, relation.parent)} = {alias}.{quote('id')}"
            if relation.where:
                where += f" AND {relation.where.format(t=b)}"
        if self.d.postgres:
            body, _ = self.object(plan.target, b, b, depth + 1)
            return f"(SELECT {self.d.agg(body, order, '1 = 1')} FROM {source} WHERE {where})"  # noqa: S608
        body, extras = self.object(plan.target, s, b, depth + 1)
        rows = f"SELECT {b}.*{extras} FROM {source} WHERE {where} ORDER BY {order}"  # noqa: S608
        return f"(SELECT {self.d.agg(body, '', '1 = 1')} FROM ({rows}) {s})"  # noqa: S608

    def number(self, order: str) -> str:
        """The rows' numbers in `order`, which PostgreSQL's aggregate orders by; SQLite's
        rows come from a subquery in that order already (a window would cost a sort)."""
        return f", ROW_NUMBER() OVER (ORDER BY {order}) AS crm_rn" if self.d.postgres else ""

    def scalar(self, spec: TypeSpec, what: Count | Total, alias: str, depth: int) -> str:
        """A count, or an invoice's computed amount (compiled/totals.py), of the row."""
        if isinstance(what, Count):
            return self.count(spec, what, alias, depth)
        invoice = f"{alias}.{_db(spec, what.invoice)}"
        percent = f"{alias}.{_db(spec, 'percent')}" if what.part == TAX else None
        return total_sql(self.d, what.part, invoice, percent)

    def count(self, spec: TypeSpec, count: Count, alias: str, depth: int) -> str:
        """The number of visible rows under the row `alias` (a count loader's SQL)."""
        b = f"m{depth + 1}"
        table, rule = self.ruled(count.model, b, count.visible)
        column = quote(count.model._meta.fields_db_projection[count.parent])
        where = f"{b}.{column} = {alias}.{_db(spec, 'id')}{rule}"
        return f"(SELECT COUNT(*) FROM {table} WHERE {where})"  # noqa: S608

    def related(self, spec: TypeSpec, plan: RelatedPlan, alias: str, depth: int) -> str:
        """The visible rows paired with the row `alias` either way in the link table,
        by id, as a JSON array."""
        relation = plan.relation
        target = plan.target.spec
        link = TypeSpec(relation.link)
        b, s, k = f"e{depth + 1}", f"s{depth + 1}", f"k{depth + 1}"
        table, rule = self.ruled(target.model, b, relation.visible)
        one, other = _db(link, relation.one), _db(link, relation.other)
        links = quote(relation.link._meta.db_table)
        row_id = f"{alias}.{_db(spec, 'id')}"
        paired = (
            f"SELECT {k}.{other} FROM {links} {k} WHERE {k}.{one} = {row_id} "  # noqa: S608
            f"UNION SELECT {k}.{one} FROM {links} {k} WHERE {k}.{other} = {row_id}"
        )
        order = _order(target, b, [SortKey("id")])
        body, extras = self.object(plan.target, s, b, depth + 1)
        rows = (
            f"SELECT {b}.*{self.number(order)}{extras} "  # noqa: S608
            f"FROM {table} WHERE {b}.{_db(target, 'id')} IN ({paired}){rule} ORDER BY {order}"
        )
        return f"(SELECT {self.d.agg(body, f'{s}.crm_rn', '1 = 1')} FROM ({rows}) {s})"  # noqa: S608

    def sums(self, spec: TypeSpec, plan: SumsPlan, alias: str, depth: int) -> str:
        """Per currency, the sum of the visible rows' cents under the row `alias`, as a
        JSON array by currency code (a code point order on both databases)."""
        relation = plan.relation
        model = relation.model
        b, s = f"g{depth + 1}", f"s{depth + 1}"
        table, rule = self.ruled(model, b, relation.visible)
        column = model._meta.fields_db_projection
        currency = f"{b}.{quote(column['currency'])}"
        binary = f'{currency} COLLATE "C"' if self.d.postgres else currency
        body, extras = self.object(plan.target, s, b, depth + 1)
        if extras:
            raise Unsupported("nested levels under a sum")
        rows = (
            f"SELECT {currency} AS {quote(column['currency'])}, "  # noqa: S608
            f"COALESCE(SUM({b}.{quote(column[relation.cents])}), 0) AS crm_cents"
            f"{self.number(binary)} FROM {table} WHERE {b}.{quote(column[relation.parent])} = "
            f"{alias}.{_db(spec, 'id')}{rule} GROUP BY {currency} ORDER BY {binary}"
        )
        return f"(SELECT {self.d.agg(body, f'{s}.crm_rn', '1 = 1')} FROM ({rows}) {s})"  # noqa: S608

    def custom_fields(self, spec: TypeSpec, plan: CustomFieldsPlan, alias: str, depth: int) -> str:
        """The definitions of the row's entity (and type) in their order, each with the
        row's value and section name beside its columns (as `crm_value`, `crm_section`),
        as a JSON array of the CustomFieldValue objects."""
        relation = plan.relation
        target = plan.target.spec
        f, v, x, s = f"f{depth + 1}", f"v{depth + 1}", f"x{depth + 1}", f"s{depth + 1}"
        owner = (
            f"{f}.{_db(target, 'owner_id')} = {alias}.{_db(spec, relation.owner)}"
            if relation.owner is not None
            else f"{f}.{_db(target, 'owner_id')} IS NULL"
        )
        # value_list without section names: a definition that has a section anyway
        # (none of the entity's names to look it up in) is "Without section".
        without = literal(WITHOUT_SECTION)
        section_id = f"{f}.{_db(target, 'section_id')}"
        section = f"CASE WHEN {section_id} IS NULL THEN NULL ELSE {without} END"
        sections = ""
        if relation.sections:
            section = f"COALESCE({x}.{quote('name')}, {without})"
            sections = (
                f" LEFT JOIN {quote(CustomFieldSection._meta.db_table)} {x} "
                f"ON {x}.{quote('id')} = {section_id}"
            )
        order = _order(target, f, CUSTOM_FIELD_ORDER)
        body, extras = self.object(plan.target, s, f, depth + 1)
        rows = (
            f"SELECT {f}.*, {v}.{quote('value')} AS crm_value, {section} AS crm_section"  # noqa: S608
            f"{self.number(order)}{extras} FROM {quote(target.model._meta.db_table)} {f} "
            f"LEFT JOIN {quote(CustomFieldValue._meta.db_table)} {v} "
            f"ON {v}.{quote('field_id')} = {f}.{quote('id')} "
            f"AND {v}.{quote('object_id')} = {alias}.{_db(spec, 'id')}{sections} "
            f"WHERE {f}.{_db(target, 'entity')} = {literal(relation.entity.value)} AND {owner} "
            f"ORDER BY {order}"
        )
        return f"(SELECT {self.d.agg(body, f'{s}.crm_rn', '1 = 1')} FROM ({rows}) {s})"  # noqa: S608

    def source(
        self, relation: Nested | Linked, spec: TypeSpec, alias: str, b: str
    ) -> tuple[str, str, str, list[tuple[str, bool]]]:
        """FROM, WHERE and ORDER BY of a nested connection's rows (as `b`) under the
        row `alias`: the rule of the rows' type applied to them; and the order's
        (column, descending) pairs (`cursor_values` reads the same columns)."""
        model = spec.model
        table, rule = self.ruled(model, b, relation.visible)
        parent_id = f"{alias}.{quote('id')}"
        if isinstance(relation, Nested):
            where = f"{b}.{_db(spec, relation.parent)} = {parent_id}{rule}"
            items = [(f"{b}.{_db(spec, k.column)}", k.descending) for k in relation.keys]
            return table, where, _order(spec, b, relation.keys), items
        link = TypeSpec(relation.link)
        k = f"k{b}"
        joined = (
            f"{quote(relation.link._meta.db_table)} {k} JOIN {table} "
            f"ON {b}.{quote(model._meta.db_pk_column)} = {k}.{_db(link, relation.target)}"
        )
        where = f"{k}.{_db(link, relation.parent)} = {parent_id}{rule}"
        items = [(f"{k}.{_db(link, key.column)}", key.descending) for key in relation.keys]
        return joined, where, _order(link, k, relation.keys), items

    def cursor_values(self, relation: Nested | Linked, spec: TypeSpec, b: str) -> str:
        """A nested row's cursor as the sort values `encode_cursor` puts in it, as a JSON
        array (`_cursors` encodes it): the order's columns of the row `b` (of its link
        row for a link-table connection, as `source` orders them)."""
        keyed, alias = (
            (spec, b) if isinstance(relation, Nested) else (TypeSpec(relation.link), f"k{b}")
        )
        values = []
        for key in relation.keys:
            expr = f"{alias}.{_db(keyed, key.column)}"
            kind = keyed.model._meta.fields_map.get(key.column)
            # json_value's forms: numbers and text as they are, dates in ISO form.
            if isinstance(kind, tfields.DatetimeField):
                values.append(self.d.datetime(expr))
            elif isinstance(kind, tfields.DateField):
                values.append(self.d.date(expr))
            elif isinstance(kind, _PLAIN) or type(kind) in (tfields.CharField, tfields.TextField):
                values.append(expr)
            else:
                raise Unsupported(f"a cursor over {key.column}")
        return self.d.array(values)

    def nested(self, plan: NestedPlan, alias: str, depth: int) -> str:
        args = get_argument_values(plan.field_def, plan.node, self.variables)
        limits = self.limits
        size = page_size(
            args.get("first"), limits.nested_page_size_default, limits.nested_page_size_max
        )
        relation = plan.relation
        connection = plan.connection
        target = connection.node.spec if connection.node else None
        spec = target or TYPES[relation.type_name]
        b, s, c = f"n{depth + 1}", f"s{depth + 1}", f"c{depth + 1}"
        source, where, order, items = self.source(relation, spec, alias, b)
        node, extras = "NULL", ""
        # One row more than the page only when hasNextPage asks.
        more = any(
            isinstance(what, PageInfoPlan) and any(p == "hasNextPage" for _, p in what.entries)
            for _, what in connection.entries
        )
        limit = size + 1 if more else size
        # The rows' sort values when a cursor is asked for (_cursors encodes them).
        cursors = (
            f", {self.cursor_values(relation, spec, b)} AS crm_cur" if connection.cursors else ""
        )
        cursor = self.d.nested(f"{s}.crm_cur")
        if self.d.postgres:
            # The page's order from the row's own columns (no window); nested levels
            # inline, so the aggregate's FILTER spares them for the extra row.
            keys = "".join(f", {expr} AS crm_o{i}" for i, (expr, _) in enumerate(items))
            number = f", ROW_NUMBER() OVER (ORDER BY {order}) AS crm_rn" if more else ""
            if connection.node is not None:
                node, _ = self.object(connection.node, s, s, depth + 1)
            rows = (
                f"SELECT {b}.*{keys}{number}{cursors} FROM {source} WHERE {where} "  # noqa: S608
                f"ORDER BY {order} LIMIT {limit}"
            )
            page_order = ", ".join(
                f"{s}.crm_o{i} {'DESC' if descending else 'ASC'}"
                for i, (_, descending) in enumerate(items)
            )
            kept = f"{s}.crm_rn <= {size}" if more else "1 = 1"
        else:
            if connection.node is not None:
                node, extras = self.object(connection.node, s, b, depth + 1)
            # The rows come in the page's order (the aggregate keeps it); their numbers
            # only to leave out the extra row of hasNextPage (a window costs a sort).
            number = f", ROW_NUMBER() OVER (ORDER BY {order}) AS crm_rn" if more else ""
            rows = (
                f"SELECT {b}.*{number}{extras}{cursors} "  # noqa: S608
                f"FROM {source} WHERE {where} ORDER BY {order} LIMIT {limit}"
            )
            page_order, kept = "", f"{s}.crm_rn <= {size}" if more else "1 = 1"
        pairs: list[tuple[str, str]] = []
        for key, what in connection.entries:
            if isinstance(what, Typename):
                pairs.append((key, literal(what.name)))
            elif what == "totalCount":
                count_source, count_where, _, _ = self.source(relation, spec, alias, c)
                count = f"(SELECT COUNT(*) FROM {count_source} WHERE {count_where})"  # noqa: S608
                pairs.append((key, count))
            elif isinstance(what, EdgesPlan):
                edge: list[tuple[str, str]] = []
                for edge_key, part in what.entries:
                    if isinstance(part, Typename):
                        edge.append((edge_key, literal(part.name)))
                    elif part == "node" and connection.node is not None:
                        edge.append((edge_key, node))
                    elif part == "cursor":
                        edge.append((edge_key, cursor))
                    else:
                        raise Unsupported(f"edge {part}")
                pairs.append((key, self.d.agg(self.d.obj(edge), page_order, kept)))
            elif isinstance(what, PageInfoPlan):
                info: list[tuple[str, str]] = []
                for info_key, part in what.entries:
                    if isinstance(part, Typename):
                        info.append((info_key, literal(part.name)))
                    elif part == "hasNextPage":
                        info.append((info_key, self.d.condition(f"COUNT(*) > {size}")))
                    elif part == "hasPreviousPage":
                        info.append((info_key, self.d.false()))
                    elif part in ("startCursor", "endCursor"):
                        # The page's sort values; _cursors keeps the first or the last.
                        info.append((info_key, self.d.agg(cursor, page_order, kept)))
                    else:
                        raise Unsupported(f"pageInfo {part}")
                pairs.append((key, self.d.obj(info)))
            else:
                raise Unsupported(f"{what!r}")
        body = self.d.obj(pairs)
        if not any(
            isinstance(what, EdgesPlan)
            or (
                isinstance(what, PageInfoPlan)
                and any(p != "hasPreviousPage" for _, p in what.entries)
            )
            for _, what in connection.entries
        ):
            # Nothing aggregates the rows (only totalCount, __typename, hasPreviousPage):
            # over no rows a FROM would give no row at all, so null instead of an object.
            return f"(SELECT {body})"
        return f"(SELECT {body} FROM ({rows}) {s})"  # noqa: S608


def _arguments(
    strawberry_schema: Any,
    root: RootPlan | SingleRootPlan | PipelineRootPlan | DuplicatesRootPlan,
    variables: VariableValues,
) -> Any:
    raw = get_argument_values(root.field_def, root.node, variables)
    definition = strawberry_schema.get_field_for_type(root.node.name.value, "Query")
    return convert_arguments(
        raw,
        definition.arguments,
        scalar_registry=strawberry_schema.schema_converter.scalar_registry,
        config=strawberry_schema.config,
    )


@dataclass(frozen=True)
class _Prepared:
    """A root field's statement, ready to run, and what its answer needs besides."""

    plan: ConnectionPlan
    model: type[Model]
    keys: list[SortKey]
    annotations: tuple[str, ...]
    size: int
    after: bool
    statement: str
    params: list[Any]
    connection: Any
    count: QuerySet[Any] | None


async def _prepare(
    root: RootPlan,
    strawberry_schema: Any,
    viewer: Viewer,
    limits: Limits,
    variables: VariableValues,
    root_path: str,
) -> _Prepared:
    """A root connection's statement: the resolver's rows, each row's JSON built by
    the database."""
    args = _arguments(strawberry_schema, root, variables)
    if root.reads_first and root.spec.read_first is not None:
        args = await root.spec.read_first.read(strawberry_schema, limits, viewer, args)
    spec = TYPES[root.spec.type_name]
    model = spec.model
    size = page_size(args.get("first"), limits.page_size_default, limits.page_size_max)
    after = args.get("after")
    try:
        queryset = root.spec.base(viewer, args)
        flt = args.get("filter")
        if flt is not None:
            queryset = queryset.filter(
                filter_q(flt, root.spec.filter_spec, model=model, viewer=viewer)
            )
        keys = sort_keys(order_pairs(args.get("order_by")), root.spec.default_order)
        page = queryset
        if after:
            page = page.filter(keyset_q(keys, decode_cursor(model, after, keys)))
    except ListError as exc:
        raise Unsupported(str(exc)) from None
    sql, params, connection = compiled(page.order_by(*order_args(keys)).limit(size + 1))
    postgres = connection.capabilities.dialect == "postgres"
    builder = _Builder(Dialect(postgres), viewer, limits, variables, root_path)
    inner = builder.params.adopt(sql, params, postgres)
    plan = root.connection
    node, extras = "NULL", ""
    if plan.node is not None:
        node, extras = builder.object(plan.node, "t", "t" if postgres else "t0", 0)
    # The row's own columns by name (t.* would repeat the nested columns' subqueries
    # where SQLite flattens the derived table), and only when its cursors are asked for;
    # computed sort columns (annotations, e.g. billing_key) by their names.
    annotations = tuple(queryset._annotations)
    own = list(model._meta.fields_db_projection.values()) + list(annotations)
    columns = "".join(f"t.{quote(c)}, " for c in own if plan.cursors)
    table = f"({inner}) t" if postgres else f"(SELECT t0.*{extras} FROM ({inner}) t0) t"  # noqa: S608
    order = ", ".join(
        f"t.{quote(k.column) if k.column in annotations else _db(spec, k.column)} "
        f"{'DESC' if k.descending else 'ASC'}"
        for k in keys
    )
    text = f"SELECT {columns}{node} AS crm_node FROM {table} ORDER BY {order}"  # noqa: S608
    statement, ordered = builder.params.finish(text, postgres)
    return _Prepared(
        plan,
        model,
        list(keys),
        annotations,
        size,
        bool(after),
        statement,
        ordered,
        connection,
        queryset if plan.counts else None,
    )


async def _root(prepared: _Prepared) -> dict[str, Any]:
    """A root connection's JSON value, as the resolver and the executor would give it."""
    rows = await _rows(prepared.connection, prepared.statement, prepared.params)
    size, plan = prepared.size, prepared.plan
    has_next = len(rows) > size
    rows = rows[:size]
    # The database's JSON text goes into the response as it is (never parsed here),
    # unless nested cursors are to be encoded in it.
    nodes = [_node(plan.node, row["crm_node"]) if plan.node else None for row in rows]
    cursors = []
    if plan.cursors:
        columns = [{k: v for k, v in row.items() if not k.startswith("crm_")} for row in rows]
        cursors = [encode_cursor(_instance(prepared, c), prepared.keys) for c in columns]
    total = await prepared.count.count() if prepared.count is not None else 0
    return _connection(plan, nodes, cursors, has_next, prepared.after, total)


def _instance(prepared: _Prepared, row: dict[str, Any]) -> Model:
    """A page row as the model instance the executor's cursor reads, its computed sort
    columns set as Tortoise sets annotations."""
    instance = from_row(prepared.model, row)
    for name in prepared.annotations:
        setattr(instance, name, row[name])
    return instance


@dataclass(frozen=True)
class _PreparedSingle:
    """A single-object or plain-list root field's statement, ready to run."""

    target: ObjectPlan
    statement: str
    params: list[Any]
    connection: Any
    many: bool


def _prepare_single(
    root: SingleRootPlan,
    strawberry_schema: Any,
    viewer: Viewer,
    limits: Limits,
    variables: VariableValues,
    root_path: str,
) -> _PreparedSingle:
    """The statement of a single-object root (the object if the viewer can see it) or
    of a plain-list root (its rows in order), each row's JSON built by the database. A
    malformed id is the resolver's NOT_FOUND: Unsupported, so that the executor answers
    it."""
    spec = root.spec
    if isinstance(spec, StepsSpec | SetupListSpec):
        return _prepare_values(root, spec, viewer, limits, variables, root_path)
    if isinstance(spec, ListSpec):
        queryset = spec.rows(viewer, _arguments(strawberry_schema, root, variables))
        order = f" ORDER BY {_order(TYPES[spec.type_name], 't', spec.order)}"
    else:
        number = id_number(get_argument_values(root.field_def, root.node, variables).get("id"))
        if number is None:
            raise Unsupported("not an id")
        queryset = spec.visible(viewer).filter(id=number).limit(1)
        order = ""
    sql, params, connection = compiled(queryset, ordered=False)
    postgres = connection.capabilities.dialect == "postgres"
    builder = _Builder(Dialect(postgres), viewer, limits, variables, root_path)
    inner = builder.params.adopt(sql, params, postgres)
    node, extras = builder.object(root.target, "t", "t" if postgres else "t0", 0)
    table = f"({inner}) t" if postgres else f"(SELECT t0.*{extras} FROM ({inner}) t0) t"  # noqa: S608
    text = f"SELECT {node} AS crm_node FROM {table}{order}"  # noqa: S608
    statement, ordered = builder.params.finish(text, postgres)
    return _PreparedSingle(root.target, statement, ordered, connection, isinstance(spec, ListSpec))


def _prepare_values(
    root: SingleRootPlan,
    spec: StepsSpec | SetupListSpec,
    viewer: Viewer,
    limits: Limits,
    variables: VariableValues,
    root_path: str,
) -> _PreparedSingle:
    """A root list with no table of its own: CRM setup's list (one row, the JSON array),
    or one object per value of a statement's own rows, in their order."""
    connection = compiled(CrmSetup.filter(id=SETUP_ID))[2]
    postgres = connection.capabilities.dialect == "postgres"
    builder = _Builder(Dialect(postgres), viewer, limits, variables, root_path)
    if isinstance(spec, SetupListSpec):
        text = f"SELECT {builder.setup_list(spec)} AS crm_node"
        statement, ordered = builder.params.finish(text, postgres)
        return _PreparedSingle(root.target, statement, ordered, connection, False)
    column = _db(TYPES[spec.type_name], spec.column)
    inner = " UNION ALL ".join(
        f"SELECT {value} AS {column}, {n} AS crm_n" for n, value in enumerate(spec.values)
    )
    node, extras = builder.object(root.target, "t", "t" if postgres else "t0", 0)
    table = f"({inner}) t" if postgres else f"(SELECT t0.*{extras} FROM ({inner}) t0) t"  # noqa: S608
    text = f"SELECT {node} AS crm_node FROM {table} ORDER BY t.crm_n"  # noqa: S608
    statement, ordered = builder.params.finish(text, postgres)
    return _PreparedSingle(root.target, statement, ordered, connection, True)


async def _single(prepared: _PreparedSingle) -> Any:
    """The object's JSON value (or the list's); an unknown or invisible id (no row) is
    the resolver's NOT_FOUND: Unsupported, so that the executor answers it."""
    found = await _rows(prepared.connection, prepared.statement, prepared.params)
    if prepared.many:
        return [_node(prepared.target, row["crm_node"]) for row in found]
    if not found:
        raise Unsupported("not found")
    return _node(prepared.target, found[0]["crm_node"])


@dataclass(frozen=True)
class _PreparedPipeline:
    """A pipeline root's statement (compiled/pipeline.py), ready to run."""

    plan: PipelineRootPlan
    statement: str
    params: list[Any]
    connection: Any


def _prepare_pipeline(
    root: PipelineRootPlan,
    strawberry_schema: Any,
    viewer: Viewer,
    limits: Limits,
    variables: VariableValues,
    root_path: str,
) -> _PreparedPipeline:
    """The statement of a pipeline root: its steps' JSON array, built by the database."""
    args = _arguments(strawberry_schema, root, variables)
    query = pipeline_query(root, viewer, limits, args)
    sql, params, connection = compiled(query.leads, ordered=False)
    postgres = connection.capabilities.dialect == "postgres"
    builder = _Builder(Dialect(postgres), viewer, limits, variables, root_path)
    text = pipeline_sql(builder, root, query, builder.params.adopt(sql, params, postgres))
    statement, ordered = builder.params.finish(text, postgres)
    return _PreparedPipeline(root, statement, ordered, connection)


async def _pipeline(prepared: _PreparedPipeline) -> Any:
    """The steps' JSON as the database wrote it, or parsed and given the cursors of
    connections nested in its leads."""
    found = await _rows(prepared.connection, prepared.statement, prepared.params)
    text = found[0]["crm_node"]
    rows = [
        (key, what.target)
        for key, what in prepared.plan.entries
        if isinstance(what, StepRows) and what.target.cursors
    ]
    if not rows:
        return orjson.Fragment(text)
    steps = orjson.loads(text)
    for step in steps:
        for key, target in rows:
            for lead in step[key]:
                _cursors(target, lead)
    return steps


@dataclass(frozen=True)
class _PreparedDuplicates:
    """A `duplicates` root's statement (compiled/duplicates.py), ready to run."""

    plan: DuplicatesRootPlan
    statement: str
    params: list[Any]
    connection: Any


def _prepare_duplicates(
    root: DuplicatesRootPlan,
    strawberry_schema: Any,
    viewer: Viewer,
    limits: Limits,
    variables: VariableValues,
    root_path: str,
) -> _PreparedDuplicates:
    args = _arguments(strawberry_schema, root, variables)
    entity, target, rows = duplicate_sets(root, viewer, args)
    target_sql, target_params, connection = compiled(target, ordered=False)
    rows_sql, rows_params, _ = compiled(rows, ordered=False)
    postgres = connection.capabilities.dialect == "postgres"
    builder = _Builder(Dialect(postgres), viewer, limits, variables, root_path)
    text = duplicates_sql(
        builder,
        root,
        entity,
        builder.params.adopt(target_sql, target_params, postgres),
        builder.params.adopt(rows_sql, rows_params, postgres),
    )
    statement, ordered = builder.params.finish(text, postgres)
    return _PreparedDuplicates(root, statement, ordered, connection)


async def _duplicates(prepared: _PreparedDuplicates) -> Any:
    """The candidates' JSON; an invisible or unknown target is the resolver's NOT_FOUND:
    Unsupported, so that the executor answers it."""
    found = (await _rows(prepared.connection, prepared.statement, prepared.params))[0]
    if not int(found["crm_found"]):
        raise Unsupported("not found")
    records = [(key, what) for key, what in prepared.plan.entries if isinstance(what, ObjectPlan)]
    if not any(plan.cursors for _, plan in records):
        return orjson.Fragment(found["crm_node"])
    candidates = orjson.loads(found["crm_node"])
    for candidate in candidates:
        for key, plan in records:
            _cursors(plan, candidate[key])
    return candidates


async def _rows(connection: Any, statement: str, params: list[Any]) -> Sequence[Mapping[str, Any]]:
    """A compiled statement's rows: on PostgreSQL from the read pool (one round trip, on
    sessions set up for these statements), on SQLite from its reader connections."""
    if isinstance(connection, CrmAsyncpgClient):
        return await connection.read_rows(statement, params)
    rows: list[dict[str, Any]] = await connection.execute_query_dict(statement, params)
    return rows


def _node(plan: ObjectPlan, text: Any) -> Any:
    """A row's JSON from the database: passed through as it is, or, when nested
    cursors are in it, parsed and given them (`_cursors`)."""
    if not plan.cursors:
        return orjson.Fragment(text)
    value = orjson.loads(text)
    _cursors(plan, value)
    return value


def _cursors(plan: ObjectPlan, value: Any) -> None:
    """Nested cursors in a row's JSON, in place: the database gave each as its row's
    sort values (a JSON array; SQLite has no base64), made here into the strings
    `encode_cursor` makes for the executor's nested connections."""
    if not plan.cursors or value is None:
        return
    for key, entry in plan.entries:
        what = entry.inner if isinstance(entry, GuardedPlan) else entry
        if isinstance(what, Encoded):
            value[key] = what.encode(value[key])
        elif isinstance(what, SinglePlan):
            _cursors(what.target, value[key])
        elif isinstance(what, RowsPlan | RelatedPlan):
            for row in value[key] or ():
                _cursors(what.target, row)
        elif isinstance(what, NestedPlan):
            _nested_cursors(what, value[key])


def _nested_cursors(plan: NestedPlan, value: dict[str, Any]) -> None:
    keys = plan.relation.keys
    node = plan.connection.node
    for key, what in plan.connection.entries:
        if isinstance(what, EdgesPlan):
            for edge in value[key]:
                for edge_key, part in what.entries:
                    if part == "cursor":
                        edge[edge_key] = encode_cursor_values(edge[edge_key], keys)
                    elif part == "node" and node is not None:
                        _cursors(node, edge[edge_key])
        elif isinstance(what, PageInfoPlan):
            info = value[key]
            for info_key, part in what.entries:
                if part in ("startCursor", "endCursor"):
                    page = info[info_key]
                    if not page:
                        info[info_key] = None
                    else:
                        chosen = page[0] if part == "startCursor" else page[-1]
                        info[info_key] = encode_cursor_values(chosen, keys)


def _connection(
    plan: ConnectionPlan,
    nodes: list[Any],
    cursors: list[str],
    has_next: bool,
    has_previous: bool,
    total: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, what in plan.entries:
        if isinstance(what, Typename):
            out[key] = what.name
        elif what == "totalCount":
            out[key] = total
        elif isinstance(what, EdgesPlan):
            edges = []
            for i, node in enumerate(nodes):
                edge: dict[str, Any] = {}
                for edge_key, part in what.entries:
                    if isinstance(part, Typename):
                        edge[edge_key] = part.name
                    elif part == "cursor":
                        edge[edge_key] = cursors[i]
                    else:
                        edge[edge_key] = node
                edges.append(edge)
            out[key] = edges
        elif isinstance(what, PageInfoPlan):
            info: dict[str, Any] = {}
            for info_key, part in what.entries:
                if isinstance(part, Typename):
                    info[info_key] = part.name
                elif part == "hasNextPage":
                    info[info_key] = has_next
                elif part == "hasPreviousPage":
                    info[info_key] = has_previous
                elif part == "startCursor":
                    info[info_key] = cursors[0] if cursors else None
                else:
                    info[info_key] = cursors[-1] if cursors else None
            out[key] = info
    return out


@dataclass(frozen=True)
class Compiled:
    """What the compiled path answered: the covered root fields' values by response key,
    and the keys of those left to the executor (not covered, or declined at run time)."""

    data: dict[str, Any]
    left: tuple[str, ...]


async def run_compiled(
    strawberry_schema: Any,
    document: Any,
    operation_name: str | None,
    raw_variables: dict[str, Any] | None,
    viewer: Viewer | None,
    limits: Limits,
    cache: PlanCache,
    root_path: str = "",
) -> Compiled | None:
    """The values of the root fields the compiler covers, or None when it covers none
    (the executor runs the operation). A root whose answer would be an error (a refusal,
    bad input, a timeout) is left to the executor, which produces it with its path,
    code, masking and audit. An unexpected failure is logged, and the executor answers
    the whole operation."""
    try:
        if viewer is None:
            return None
        key = (
            document_key(document),
            operation_name,
            variable_shape(raw_variables),
            permission_class(viewer),
        )
        # A viewer from the token cache has the same rules as the one before it (the same
        # lookup): the statements built for the same plan and variables are reused as
        # they are, without coercing the variables or looking the plan up again.
        memo = (
            (key, limits, root_path, orjson.dumps(raw_variables or {}, option=orjson.OPT_SORT_KEYS))
            if viewer.lookup is not None
            else None
        )
        reused = cache.statements.get(viewer.lookup, memo) if memo is not None else None
        if reused is not None:
            plan, prepared = reused
        else:
            schema = strawberry_schema._schema
            built = Executor.build(schema, document, None, None, raw_variables, operation_name)
            if isinstance(built, list):
                return None
            hit, plan = cache.get(key)
            if not hit:
                try:
                    plan = build_plan(
                        schema,
                        built.fragments,
                        built.variable_values,
                        built.operation,
                        permission_checker(strawberry_schema, viewer),
                    )
                except Unsupported:
                    plan = None
                cache.put(key, plan)
            if plan is None:
                return None
            prepared = [
                await _prepare_root(
                    root, strawberry_schema, viewer, limits, built.variable_values, root_path
                )
                for root in plan.roots
            ]
            # A root that reads a row first (a saved search's filter) is built anew each
            # time: the row can change.
            if memo is not None and not any(
                isinstance(root, RootPlan) and root.reads_first for root in plan.roots
            ):
                cache.statements.put(viewer.lookup, memo, (plan, prepared))
        data: dict[str, Any] = {}
        left = list(plan.left)
        for root, ready in zip(plan.roots, prepared, strict=True):
            value = await _answer(ready) if ready is not None else _DECLINED
            if value is _DECLINED:
                left.append(root.key)
            else:
                data[root.key] = value
        return Compiled(data, tuple(left)) if data else None
    except Exception:
        log.exception("compiled read path failed; the executor answers")
        return None


# A root the executor answers instead (its answer is an error), in place of a value.
_DECLINED = object()

_AnyPrepared = _Prepared | _PreparedSingle | _PreparedPipeline | _PreparedDuplicates


async def _prepare_root(
    root: AnyRootPlan,
    strawberry_schema: Any,
    viewer: Viewer,
    limits: Limits,
    variables: VariableValues,
    root_path: str,
) -> _AnyPrepared | None:
    """A root's statement; None for bad input, which the executor reports as usual."""
    try:
        if isinstance(root, SingleRootPlan):
            return _prepare_single(root, strawberry_schema, viewer, limits, variables, root_path)
        if isinstance(root, PipelineRootPlan):
            return _prepare_pipeline(root, strawberry_schema, viewer, limits, variables, root_path)
        if isinstance(root, DuplicatesRootPlan):
            return _prepare_duplicates(
                root, strawberry_schema, viewer, limits, variables, root_path
            )
        return await _prepare(root, strawberry_schema, viewer, limits, variables, root_path)
    except (Unsupported, GraphQLError, ApiError):
        return None


async def _answer(ready: _AnyPrepared) -> Any:
    """A root's value; `_DECLINED` for an error to report (bad input, a timeout, an
    unknown id), which the executor then reports as usual."""
    try:
        if isinstance(ready, _PreparedSingle):
            return await _single(ready)
        if isinstance(ready, _PreparedPipeline):
            return await _pipeline(ready)
        if isinstance(ready, _PreparedDuplicates):
            return await _duplicates(ready)
        return await _root(ready)
    except (Unsupported, GraphQLError, ApiError):
        return _DECLINED
    except Exception as exc:
        # A value the statement cannot print as the executor does (Dialect.fallback).
        if is_fallback(exc):
            return _DECLINED
        raise
