"""What a token of a narrow scope may reach: the one gate for every scope but FULL.

The `@auth` permission on each field still checks the scope, but a field someone
forgets to restrict (or opens with `scopes=tuple(TokenScope)`) must not widen a
web-form token: the request middleware refuses every other path, and the `ScopeGate`
extension refuses an operation whose root fields are not all listed here, before the
operation is validated or run (introspection included)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
)

from crm_graphql.models.auth import TokenScope

# Root fields per scope, as "Type.field". FULL is not listed: it is not narrowed.
ROOT_FIELDS: dict[TokenScope, frozenset[str]] = {
    TokenScope.LEADS_CREATE: frozenset({"Mutation.leadCreate"}),
}
# HTTP paths per scope (exact). A web form posts to /graphql or /include/api.php.
PATHS: dict[TokenScope, frozenset[str]] = {
    TokenScope.LEADS_CREATE: frozenset({"/graphql", "/include/api.php"}),
}


def path_allowed(scope: TokenScope, path: str) -> bool:
    return scope == TokenScope.FULL or path in PATHS.get(scope, frozenset())


def root_fields(document: DocumentNode, operation_name: str | None) -> Iterator[str]:
    """Every root field ("Query.viewer") the operation `operation_name` selects, through
    fragments, whatever its directives say; every operation's when the name picks none."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = get_operation_ast(document, operation_name)
    operations = (
        [operation]
        if operation is not None
        else [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    )
    for op in operations:
        type_name = op.operation.value.capitalize()
        yield from _fields(type_name, op.selection_set, fragments, set())


def _fields(
    type_name: str,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[str]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield f"{type_name}.{selection.name.value}"
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(type_name, selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                yield f"{type_name}.{name}"  # unknown or cyclic: never allowed
                continue
            seen.add(name)
            yield from _fields(type_name, fragment.selection_set, fragments, seen)


def refused_fields(
    scope: TokenScope, document: DocumentNode, operation_name: str | None
) -> list[str]:
    """The root fields of the operation a token of `scope` may not call."""
    if scope == TokenScope.FULL:
        return []
    allowed = ROOT_FIELDS.get(scope, frozenset())
    return sorted({f for f in root_fields(document, operation_name) if f not in allowed})
