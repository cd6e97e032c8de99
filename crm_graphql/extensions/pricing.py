"""What an operation costs: `Pricer` walks the selections (fragments expanded), prices
lists by their page sizes and filters by their conditions, and counts the selections
the document expands to."""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    Visitor,
    get_named_type,
    value_from_ast,
    visit,
)

from crm_graphql.errors import ErrorCode
from crm_graphql.schema.filterlimits import check_filter, is_filter_type
from crm_graphql.services.aggregate_plan import MAX_DIMENSIONS, MAX_MEASURES
from crm_graphql.settings import Limits


class QueryTooComplex(GraphQLError):
    """Raised (not only reported) by the cost rule, so validation stops at once."""


# Costs saturate here: a product of nested page sizes must never grow into a number
# that orjson cannot write (64 bits) or that takes long to compute.
COST_CEILING = 2**50


def capped(value: int) -> int:
    return min(value, COST_CEILING)


def _selection_key(selection: Any) -> str:
    """What graphql-core compares a selection with its siblings by: the response key,
    the fragment, or the inline fragment's type."""
    if isinstance(selection, FieldNode):
        return (selection.alias or selection.name).value
    if isinstance(selection, FragmentSpreadNode):
        return "..." + selection.name.value
    condition = getattr(selection, "type_condition", None)
    return "... on " + (condition.name.value if condition else "")


def aggregate_parts(node: FieldNode) -> int:
    """What an aggregate field adds to the cost, in filter conditions: each dimension
    and measure is a pass over every visible row's values (a list given as a variable
    counts as the most it may hold; no measures is COUNT)."""
    given = {arg.name.value: arg.value for arg in node.arguments or ()}
    parts = 0
    for name, most, default in (("groupBy", MAX_DIMENSIONS, 0), ("measures", MAX_MEASURES, 1)):
        value = given.get(name)
        if value is None or isinstance(value, NullValueNode):
            parts += default
        elif isinstance(value, ListValueNode):
            parts += min(len(value.values), most)
        elif isinstance(value, ObjectValueNode):
            parts += 1  # one item, coerced to a list
        else:
            parts += most
    return parts


class Pricer:
    """Prices one operation: each field costs 1; a field with a `first` argument
    multiplies the cost of what is under it by its page size (the default when omitted,
    the cap when it is a variable or above the cap), so nested lists are priced by the
    rows they can return; each condition of a filter argument costs
    `filter_condition_cost`. A root field's list uses the root page limits; a list below
    another field uses the nested limits.

    Fragments are priced once each, so the work stays linear in the document. It also
    counts selections with every fragment spread expanded, and refuses a selection set
    repeating one response key (or fragment, or inline fragment type) more than
    `max_repeated` times.

    With `variables` (coerced), filters given as variables are checked and priced too;
    without, only filters written in the document are (validation time)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        *,
        default_page: int,
        max_page: int,
        nested_default_page: int,
        nested_max_page: int,
        filter_limits: Limits | None = None,
        max_repeated: int | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.default_page = default_page
        self.max_page = max_page
        self.nested_default = nested_default_page
        self.nested_max = nested_max_page
        self.filter_limits = filter_limits
        self.max_repeated = max_repeated
        self.variables = variables
        self._roots = {
            t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
        }
        self._priced: dict[str, tuple[int, int]] = {}

    def operation(self, node: OperationDefinitionNode) -> tuple[int, int]:
        """(cost, number of selections once fragments are expanded)."""
        root = self.schema.get_root_type(node.operation)
        if root is None:
            return 0, 0
        return self.selections(node.selection_set, root, frozenset())

    def selections(
        self, selection_set: SelectionSetNode | None, parent: Any, path: frozenset[str]
    ) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        cost = size = 0
        seen: dict[str, int] = {}
        for selection in selection_set.selections:
            size += 1
            key = _selection_key(selection)
            seen[key] = seen.get(key, 0) + 1
            if self.max_repeated is not None and seen[key] > self.max_repeated:
                raise QueryTooComplex(
                    f"`{key}` is selected more than {self.max_repeated} times in one "
                    "selection set.",
                    selection,
                    extensions={"code": ErrorCode.QUERY_TOO_COMPLEX, "limit": self.max_repeated},
                )
            if isinstance(selection, FieldNode):
                field_cost, field_size = self._field(selection, parent, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = parent
                if condition is not None:
                    target = self.schema.get_type(condition.name.value)
                field_cost, field_size = self.selections(selection.selection_set, target, path)
            elif isinstance(selection, FragmentSpreadNode):
                field_cost, field_size = self._fragment(selection.name.value, path)
            else:  # pragma: no cover - no other selection kinds exist
                continue
            cost = capped(cost + field_cost)
            size = capped(size + field_size)
        return cost, size

    def _fragment(self, name: str, path: frozenset[str]) -> tuple[int, int]:
        if name in self._priced:
            return self._priced[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in path:
            return 0, 0  # unknown or cyclic: other rules report it
        target = self.schema.get_type(fragment.type_condition.name.value)
        found = self.selections(fragment.selection_set, target, path | {name})
        self._priced[name] = found
        return found

    def _field(self, node: FieldNode, parent: Any, path: frozenset[str]) -> tuple[int, int]:
        fields = getattr(parent, "fields", None)
        field_def = fields.get(node.name.value) if isinstance(fields, dict) else None
        # Unknown fields (other rules report them) are still walked: their
        # selections are work for the validators all the same.
        child_type = get_named_type(field_def.type) if field_def is not None else None
        multiplier = 1
        own = 1
        if field_def is not None:
            at_root = parent in self._roots
            cap = self.max_page if at_root else self.nested_max
            if "first" in field_def.args:
                multiplier = self.default_page if at_root else self.nested_default
            for arg in node.arguments or ():
                name = arg.name.value
                if name == "first" and "first" in field_def.args:
                    if isinstance(arg.value, IntValueNode):
                        # Above the cap the resolver refuses it; price it at the cap.
                        multiplier = min(max(int(arg.value.value), 1), cap)
                    elif not isinstance(arg.value, NullValueNode):
                        multiplier = cap  # a variable: whatever it holds, at most the cap
                argument = field_def.args.get(name)
                if self.filter_limits is not None and argument and is_filter_type(argument.type):
                    own += self.filter_limits.filter_condition_cost * self._filter(arg, argument)
            if self.filter_limits is not None and "groupBy" in field_def.args:
                own += self.filter_limits.filter_condition_cost * aggregate_parts(node)
        below_cost, below_size = self.selections(node.selection_set, child_type, path)
        return capped(own + multiplier * below_cost), below_size

    def _filter(self, arg: ArgumentNode, argument: GraphQLArgument) -> int:
        """Conditions of one filter argument, checked against the limits. A value that
        is not known yet (a variable at validation) or not valid (other rules report
        it) counts nothing here."""
        assert self.filter_limits is not None
        value = value_from_ast(arg.value, argument.type, self.variables)
        if value is Undefined or value is None:
            return 0
        return check_filter(value, argument.type, self.filter_limits, arg.name.value)


def count_directives(document: DocumentNode) -> int:
    count = 0

    class Counter(Visitor):
        def enter_directive(self, *_: Any) -> None:
            nonlocal count
            count += 1

    visit(document, Counter())
    return count
