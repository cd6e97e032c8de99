"""The plan of a read operation: which root fields the compiler covers and, for each,
the tree of what to select. Built from the parsed, validated document with graphql-core's
own field collection (fragments, aliases, @skip/@include), so the response keys and
their order are the executor's. A root field whose planning raises `Unsupported` (not in
the catalog, refused by @auth for the viewer...) is left to the executor, which runs it
beside the covered ones (extensions/compiled.py); no covered root: `Unsupported`.

Plans are cached (bounded LRU) by document, operation, variable shape (the values of
the variables that @skip/@include read are part of it) and the viewer's permission
class (superadmin, scope, bits): field-level rules are decided here from those."""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationType,
    print_ast,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues
from strawberry.permission import PermissionExtension

from crm_graphql.compiled.catalog import (
    TYPES,
    AtLeast,
    Bits,
    Column,
    Count,
    CustomFields,
    Encoded,
    Expr,
    Flag,
    Flags,
    Guarded,
    Linked,
    Nested,
    Progress,
    Related,
    RootPath,
    Rows,
    Same,
    Single,
    Stale,
    StepName,
    Sums,
    Tagged,
    Total,
    TypeSpec,
)
from crm_graphql.compiled.roots import (
    LISTS,
    MATCHES,
    PIPELINES,
    ROOTS,
    SINGLES,
    VALUES,
    ListSpec,
    MatchSpec,
    PipelineSpec,
    RootSpec,
    SetupListSpec,
    SingleSpec,
    StepsSpec,
)
from crm_graphql.compiled.sql import Unsupported
from crm_graphql.permissions.base import Auth
from crm_graphql.services.auth import Viewer

__all__ = ["Plan", "PlanCache", "build_plan"]


@dataclass(frozen=True)
class Typename:
    name: str


@dataclass
class ObjectPlan:
    """One row's JSON object: (response key, what) in the executor's key order."""

    spec: TypeSpec
    entries: list[tuple[str, Any]] = field(default_factory=list)
    # Whether a nested connection somewhere below selects a cursor: the database gives
    # its sort values and the server encodes them (run._cursors).
    cursors: bool = False


@dataclass
class SinglePlan:
    relation: Single
    target: ObjectPlan


@dataclass
class ConnectionPlan:
    """edges / pageInfo / totalCount / __typename of a connection."""

    entries: list[tuple[str, Any]] = field(default_factory=list)
    node: ObjectPlan | None = None
    cursors: bool = False

    @property
    def counts(self) -> bool:
        return any(what == "totalCount" for _, what in self.entries)


@dataclass(frozen=True)
class EdgesPlan:
    entries: list[tuple[str, Any]]  # "cursor", "node" or Typename


@dataclass(frozen=True)
class PageInfoPlan:
    entries: list[tuple[str, Any]]  # a PageInfo field name or Typename


@dataclass(frozen=True)
class FlagsPlan:
    flags: Flags
    entries: list[tuple[str, Any]]  # a key of `flags.rules` or Typename


@dataclass(frozen=True)
class ProgressPlan:
    progress: Progress
    entries: list[tuple[str, Any]]  # "code", "name", "closed" or Typename


@dataclass
class RowsPlan:
    relation: Rows | Tagged
    target: ObjectPlan


@dataclass
class GuardedPlan:
    """A field read only for the rows `rule` allows (catalog.Guarded); `inner` is its
    plan as if unguarded."""

    rule: Callable[[Viewer], Any]
    inner: Any


@dataclass
class SamePlan:
    target: ObjectPlan


@dataclass
class RelatedPlan:
    relation: Related
    target: ObjectPlan


@dataclass
class SumsPlan:
    relation: Sums
    target: ObjectPlan


@dataclass
class CustomFieldsPlan:
    relation: CustomFields
    target: ObjectPlan


@dataclass
class NestedPlan:
    relation: Nested | Linked
    field_def: GraphQLField
    node: FieldNode
    connection: ConnectionPlan


@dataclass
class RootPlan:
    key: str
    spec: RootSpec
    field_def: GraphQLField
    node: FieldNode
    connection: ConnectionPlan
    # It reads the database before its page (`RootSpec.read_first`'s argument is given):
    # its statement depends on more than the variables, so it is never reused.
    reads_first: bool = False


@dataclass
class SingleRootPlan:
    """A root field that reads one object by id (`company(id:)`...) or a plain list of
    a small table's rows (`contractTypes`...)."""

    key: str
    spec: SingleSpec | ListSpec | StepsSpec | SetupListSpec
    field_def: GraphQLField
    node: FieldNode
    target: ObjectPlan


@dataclass(frozen=True)
class StepRows:
    """A pipeline step's `leads` (Lead objects) or `estimatedSales` (LeadSum rows)."""

    name: str
    target: ObjectPlan


@dataclass
class PipelineRootPlan:
    """A root field of progress steps (`leadPipeline`, compiled/pipeline.py): each step's
    entries, "count", "hasMoreLeads", a ProgressPlan, StepRows or Typename."""

    key: str
    spec: PipelineSpec
    field_def: GraphQLField
    node: FieldNode
    entries: list[tuple[str, Any]]


@dataclass
class DuplicatesRootPlan:
    """`duplicates(type:, id:)` (compiled/duplicates.py): each candidate's entries,
    "id", "rules", "score", Typename, or (the entity's record) an ObjectPlan."""

    key: str
    spec: MatchSpec
    field_def: GraphQLField
    node: FieldNode
    entries: list[tuple[str, Any]]


AnyRootPlan = RootPlan | SingleRootPlan | PipelineRootPlan | DuplicatesRootPlan


@dataclass
class Plan:
    roots: list[AnyRootPlan]
    # Response keys of the root fields left to the executor.
    left: tuple[str, ...] = ()


# Fields that are a value of the row, with no selection of their own.
_PLAIN_FIELDS = (Column, Expr, Count, AtLeast, Stale, Total, Flag, RootPath, StepName, Bits)
_PAGE_INFO = {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}
_PROGRESS = {"code", "name", "closed"}


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


class _Planner:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
        operation: Any,
        permitted: Callable[..., bool],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation = operation
        self.permitted = permitted

    def sub(self, type_: GraphQLObjectType, details: FieldDetailsList) -> dict[str, Any]:
        collected = collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, type_, details
        )
        if collected.new_defer_usages:
            raise Unsupported("@defer")
        return collected.grouped_field_set

    def object(
        self, type_: Any, details: FieldDetailsList, spec_name: str | None = None
    ) -> ObjectPlan:
        type_ = _named(type_)
        spec = TYPES.get(spec_name or type_.name)
        if spec is None:
            raise Unsupported(f"type {type_.name}")
        plan = ObjectPlan(spec)
        for key, subs in self.sub(type_, details).items():
            name = subs[0].node.name.value
            if name == "__typename":
                plan.entries.append((key, Typename(type_.name)))
                continue
            found = spec.fields.get(name)
            # A permission decided per row: its SQL form guards the field's value.
            guard = found if isinstance(found, Guarded) else None
            if guard is not None:
                found = guard.field
            row_decided = guard.permission if guard is not None else None
            if found is None or not self.permitted(type_.name, name, row_decided):
                raise Unsupported(f"{type_.name}.{name}")
            assert not isinstance(found, Guarded)
            field_def = type_.fields[name]
            nodes = [d.node for d in subs]
            if isinstance(found, _PLAIN_FIELDS):
                _no_arguments(nodes)
                plan.entries.append((key, found))
            elif isinstance(found, Encoded):
                # The server encodes it in the row's JSON (run._cursors).
                _no_arguments(nodes)
                plan.cursors = True
                plan.entries.append((key, found))
            elif isinstance(found, Same):
                _no_arguments(nodes)
                target = self.object(field_def.type, subs, found.type_name)
                plan.entries.append((key, SamePlan(target)))
            elif isinstance(found, Related):
                _no_arguments(nodes)
                target = self.object(field_def.type, subs)
                plan.cursors = plan.cursors or target.cursors
                plan.entries.append((key, RelatedPlan(found, target)))
            elif isinstance(found, Sums):
                _no_arguments(nodes)
                target = self.object(field_def.type, subs, found.spec_name)
                plan.entries.append((key, SumsPlan(found, target)))
            elif isinstance(found, CustomFields):
                _no_arguments(nodes)
                target = self.object(field_def.type, subs, "CustomFieldValue")
                plan.entries.append((key, CustomFieldsPlan(found, target)))
            elif isinstance(found, Progress):
                _no_arguments(nodes)
                plan.entries.append((key, self.progress(found, field_def, subs)))
            elif isinstance(found, Single):
                _no_arguments(nodes)
                target = self.object(field_def.type, subs)
                plan.cursors = plan.cursors or target.cursors
                plan.entries.append((key, SinglePlan(found, target)))
            elif isinstance(found, Flags):
                _no_arguments(nodes)
                flag_type = _named(field_def.type)
                flags: list[tuple[str, Any]] = []
                for flag_key, flag_subs in self.sub(flag_type, subs).items():
                    flag = flag_subs[0].node.name.value
                    if flag == "__typename":
                        flags.append((flag_key, Typename(flag_type.name)))
                    elif flag in found.rules:
                        flags.append((flag_key, flag))
                    else:
                        raise Unsupported(f"{flag_type.name}.{flag}")
                plan.entries.append((key, FlagsPlan(found, flags)))
            elif isinstance(found, Rows | Tagged):
                _no_arguments(nodes)
                target = self.object(field_def.type, subs, found.spec_name)
                plan.cursors = plan.cursors or target.cursors
                plan.entries.append((key, RowsPlan(found, target)))
            elif isinstance(found, Nested | Linked):
                # The schema's nested connections take `first` only; anything else is
                # left to the executor should one ever take more.
                if any(a.name.value != "first" for n in nodes for a in n.arguments or ()):
                    raise Unsupported("nested arguments")
                connection = self.connection(field_def.type, subs)
                node_cursors = connection.node is not None and connection.node.cursors
                plan.cursors = plan.cursors or connection.cursors or node_cursors
                plan.entries.append((key, NestedPlan(found, field_def, nodes[0], connection)))
            if guard is not None:
                plan.entries[-1] = (key, GuardedPlan(guard.rule, plan.entries[-1][1]))
        return plan

    def root_target(self, spec: Any, type_: Any, details: FieldDetailsList) -> ObjectPlan:
        """A single-object or plain-list root's rows; a list of text (SetupListSpec)
        has no selection of its own."""
        if isinstance(spec, SetupListSpec):
            _no_arguments([d.node for d in details])
            # No entries: the statement's one value is the list's JSON.
            return ObjectPlan(TYPES["LeadProgress"])
        return self.object(type_, details)

    def progress(
        self, found: Progress, field_def: GraphQLField, details: FieldDetailsList
    ) -> ProgressPlan:
        step_type = _named(field_def.type)
        steps: list[tuple[str, Any]] = []
        for step_key, step_subs in self.sub(step_type, details).items():
            step = step_subs[0].node.name.value
            if step == "__typename":
                steps.append((step_key, Typename(step_type.name)))
            elif step in _PROGRESS:
                steps.append((step_key, step))
            else:
                raise Unsupported(f"{step_type.name}.{step}")
        return ProgressPlan(found, steps)

    def pipeline(self, type_: Any, details: FieldDetailsList) -> list[tuple[str, Any]]:
        """A pipeline step's entries: its progress as a lead's, its leads as Lead objects
        (the `leads` root's plans), its sales as company sums' LeadSum rows."""
        step_type = _named(type_)
        entries: list[tuple[str, Any]] = []
        for key, subs in self.sub(step_type, details).items():
            name = subs[0].node.name.value
            if name == "__typename":
                entries.append((key, Typename(step_type.name)))
                continue
            if not self.permitted(step_type.name, name):
                raise Unsupported(f"{step_type.name}.{name}")
            _no_arguments([d.node for d in subs])
            field_def = step_type.fields[name]
            if name in ("count", "hasMoreLeads"):
                entries.append((key, name))
            elif name == "progress":
                progress = TYPES["Lead"].fields["progress"]
                assert isinstance(progress, Progress)
                entries.append((key, self.progress(progress, field_def, subs)))
            elif name == "leads":
                entries.append((key, StepRows(name, self.object(field_def.type, subs))))
            elif name == "estimatedSales":
                target = self.object(field_def.type, subs, "LeadSum")
                entries.append((key, StepRows(name, target)))
            else:
                raise Unsupported(f"{step_type.name}.{name}")
        return entries

    def candidate(self, type_: Any, details: FieldDetailsList) -> list[tuple[str, Any]]:
        """A duplicate candidate's entries; its record as the entity's object plan."""
        kind = _named(type_)
        entries: list[tuple[str, Any]] = []
        for key, subs in self.sub(kind, details).items():
            name = subs[0].node.name.value
            if name == "__typename":
                entries.append((key, Typename(kind.name)))
                continue
            if not self.permitted(kind.name, name):
                raise Unsupported(f"{kind.name}.{name}")
            _no_arguments([d.node for d in subs])
            if name in ("id", "rules", "score"):
                entries.append((key, name))
            elif name in ("company", "contact", "lead"):
                entries.append((key, self.object(kind.fields[name].type, subs)))
            else:
                raise Unsupported(f"{kind.name}.{name}")
        return entries

    def connection(self, type_: Any, details: FieldDetailsList) -> ConnectionPlan:
        type_ = _named(type_)
        plan = ConnectionPlan()
        for key, subs in self.sub(type_, details).items():
            name = subs[0].node.name.value
            if name == "__typename":
                plan.entries.append((key, Typename(type_.name)))
            elif name == "totalCount":
                plan.entries.append((key, "totalCount"))
            elif name == "edges":
                edge_type = _named(type_.fields[name].type)
                entries: list[tuple[str, Any]] = []
                for edge_key, edge_subs in self.sub(edge_type, subs).items():
                    edge_name = edge_subs[0].node.name.value
                    if edge_name == "__typename":
                        entries.append((edge_key, Typename(edge_type.name)))
                    elif edge_name == "cursor":
                        plan.cursors = True
                        entries.append((edge_key, "cursor"))
                    elif edge_name == "node":
                        node = self.object(edge_type.fields["node"].type, edge_subs)
                        if plan.node is not None and plan.node != node:
                            raise Unsupported("two node selections")
                        plan.node = node
                        entries.append((edge_key, "node"))
                    else:
                        raise Unsupported(f"edge field {edge_name}")
                plan.entries.append((key, EdgesPlan(entries)))
            elif name == "pageInfo":
                info_type = _named(type_.fields[name].type)
                entries = []
                for info_key, info_subs in self.sub(info_type, subs).items():
                    info_name = info_subs[0].node.name.value
                    if info_name == "__typename":
                        entries.append((info_key, Typename(info_type.name)))
                    elif info_name in _PAGE_INFO:
                        plan.cursors = plan.cursors or info_name.endswith("Cursor")
                        entries.append((info_key, info_name))
                    else:
                        raise Unsupported(f"pageInfo field {info_name}")
                plan.entries.append((key, PageInfoPlan(entries)))
            else:
                raise Unsupported(f"connection field {name}")
        return plan


def _no_arguments(nodes: Sequence[FieldNode]) -> None:
    if any(n.arguments for n in nodes):
        raise Unsupported("arguments on a plain field")


def build_plan(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDetails],
    variables: VariableValues,
    operation: Any,
    permitted: Callable[[str, str], bool],
) -> Plan:
    if operation.operation != OperationType.QUERY:
        raise Unsupported("not a query")
    planner = _Planner(schema, fragments, variables, operation, permitted)
    query_type = schema.query_type
    assert query_type is not None
    collected = collect_fields(schema, fragments, variables, query_type, operation)
    if collected.new_defer_usages:
        raise Unsupported("@defer")
    roots: list[AnyRootPlan] = []
    left: list[str] = []
    for key, details in collected.grouped_field_set.items():
        try:
            roots.append(_root(planner, query_type, key, details, permitted))
        except Unsupported:
            left.append(key)  # the executor runs this one
    if not roots:
        raise Unsupported("no root field covered")
    return Plan(roots, tuple(left))


def _root(
    planner: _Planner,
    query_type: GraphQLObjectType,
    key: str,
    details: FieldDetailsList,
    permitted: Callable[[str, str], bool],
) -> AnyRootPlan:
    """The plan of one root field; `Unsupported` when the executor must run it."""
    name = details[0].node.name.value
    node = details[0].node
    pipeline = PIPELINES.get(name)
    if pipeline is not None and permitted("Query", name):
        field_def = query_type.fields[name]
        return PipelineRootPlan(
            key, pipeline, field_def, node, planner.pipeline(field_def.type, details)
        )
    matches = MATCHES.get(name)
    if matches is not None and permitted("Query", name):
        field_def = query_type.fields[name]
        found = planner.candidate(field_def.type, details)
        return DuplicatesRootPlan(key, matches, field_def, node, found)
    single = SINGLES.get(name) or LISTS.get(name) or VALUES.get(name)
    if single is not None and permitted("Query", name):
        field_def = query_type.fields[name]
        target = planner.root_target(single, field_def.type, details)
        return SingleRootPlan(key, single, field_def, node, target)
    spec = ROOTS.get(name)
    if spec is None or not permitted("Query", name):
        raise Unsupported(f"root field {name}")
    field_def = query_type.fields[name]
    connection = planner.connection(field_def.type, details)
    read_first = spec.read_first
    reads = read_first is not None and any(
        a.name.value == read_first.argument for a in node.arguments or ()
    )
    return RootPlan(key, spec, field_def, node, connection, reads)


def permission_checker(strawberry_schema: Any, viewer: Viewer) -> Callable[..., bool]:
    """Whether `viewer` may read `type.field`: the field's own @auth (or none); a field
    that would be refused runs on the executor, which refuses it and audits.
    `row_decided`: a permission class the plan decides per row in SQL (catalog.Guarded),
    not here."""

    def permitted(type_name: str, field_name: str, row_decided: type | None = None) -> bool:
        definition = strawberry_schema.get_field_for_type(field_name, type_name)
        if definition is None:
            return False
        for extension in definition.extensions:
            if isinstance(extension, PermissionExtension):
                for permission in extension.permissions:
                    if row_decided is not None and type(permission) is row_decided:
                        continue
                    if not isinstance(permission, Auth) or permission.refusal(viewer):
                        return False
        return True

    return permitted


def permission_class(viewer: Viewer) -> tuple[Any, ...]:
    """What the plan's field-level decisions depend on in a viewer."""
    return (viewer.is_superadmin, viewer.scope, tuple(sorted(viewer.bits)))


def variable_shape(variables: dict[str, Any] | None) -> tuple[Any, ...]:
    """Variables by name and type; booleans and nulls by value (@skip/@include)."""
    shape: list[tuple[str, Any]] = []
    for name, value in sorted((variables or {}).items()):
        if isinstance(value, bool) or value is None:
            shape.append((name, value))
        else:
            shape.append((name, type(value).__name__))
    return tuple(shape)


def document_key(document: DocumentNode) -> str:
    text = document.loc.source.body if document.loc else print_ast(document)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class StatementCache:
    """Statements built for a token lookup (services/auth's cached entry, alive while
    the token cache trusts it), by plan and variables: a bounded LRU. An entry is used
    only by viewers of that very lookup (checked by identity, not by id())."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, Any], tuple[weakref.ref[Any], Any]] = OrderedDict()

    def get(self, lookup: Any, key: Any) -> Any:
        found = self._items.get((id(lookup), key))
        if found is None or found[0]() is not lookup:
            return None
        self._items.move_to_end((id(lookup), key))
        return found[1]

    def put(self, lookup: Any, key: Any, value: Any) -> None:
        self._items[(id(lookup), key)] = (weakref.ref(lookup), value)
        self._items.move_to_end((id(lookup), key))
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class PlanCache:
    """A bounded LRU of plans (and of refusals: None means the executor runs it), and
    the statements built from them for recent token lookups."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        self.statements = StatementCache(size)

    def get(self, key: tuple[Any, ...]) -> tuple[bool, Plan | None]:
        if key in self._plans:
            self._plans.move_to_end(key)
            return True, self._plans[key]
        return False, None

    def put(self, key: tuple[Any, ...], plan: Plan | None) -> None:
        self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > self.size:
            self._plans.popitem(last=False)

    def __len__(self) -> int:
        return len(self._plans)
