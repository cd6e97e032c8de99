"""Operations refused before they run: NUL bytes anywhere in the request, several
operations without an operation name, fields outside a scoped token's reach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    BREAK,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    StringValueNode,
    Visitor,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from crm_graphql.errors import ErrorCode, Forbidden
from crm_graphql.permissions.scopes import ROOT_FIELDS, refused_fields


def nul_path(value: Any, path: str, depth: int = 0) -> str | None:
    """Where a NUL byte is in a JSON-like value (keys included), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if depth > 64:  # deeper than any input type; the JSON scalar has no other bound
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            if "\x00" in key_text:
                return path
            found = nul_path(item, f"{path}.{key_text}", depth + 1)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}", depth + 1)
            if found:
                return found
    return None


def _document_nul(document: DocumentNode) -> StringValueNode | None:
    source = document.loc.source.body if document.loc else None
    if source is not None and "\\" not in source and "\x00" not in source:
        # A NUL in a string value is either the character itself or an escape: a
        # document with neither needs no walk (most documents, every request).
        return None
    found: StringValueNode | None = None

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
            nonlocal found
            if "\x00" in node.value:
                found = node
                return BREAK
            return None

    visit(document, Finder())
    return found


class RefuseNulBytes(SchemaExtension):
    """No string the client sends may hold a NUL byte (written as `\\u0000` in the
    document or in the JSON variables): PostgreSQL cannot store or compare one in text,
    so it is refused before execution on both databases, whatever the field."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if not context.result:
            error: GraphQLError | None = None
            variables = context.variables or {}
            for name, value in variables.items():
                where = nul_path(value, "$" + str(name))
                if where is not None:
                    error = GraphQLError(
                        f"Variable `{where[:200]}` contains a NUL byte (\\u0000); strings "
                        "must not.",
                        extensions={"code": ErrorCode.BAD_USER_INPUT, "variable": where[:200]},
                    )
                    break
            node = _document_nul(document) if error is None and document else None
            if node is not None:
                error = GraphQLError(
                    "A string in the document contains a NUL byte (\\u0000); strings must not.",
                    node,
                    extensions={"code": ErrorCode.BAD_USER_INPUT},
                )
            if error is not None:
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


class RequireOperationName(SchemaExtension):
    """A document with several operations must say which one to run (GraphQL spec,
    "GetOperation"); strawberry would otherwise run the first."""

    def on_validate(self) -> Iterator[None]:
        # Before the yield: strawberry reads pre_execution_errors as validation ends,
        # and this extension runs after ValidationCache has stored its own results.
        context = self.execution_context
        document = context.graphql_document
        if context._provided_operation_name is None and document is not None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                context.pre_execution_errors = [
                    *(context.pre_execution_errors or []),
                    GraphQLError(
                        "The document has several operations: give operationName.",
                        extensions={"code": ErrorCode.BAD_USER_INPUT},
                    ),
                ]
        yield


class ScopeGate(SchemaExtension):
    """A token of a narrow scope (a web form's LEADS_CREATE) reaches only the root
    fields `permissions.scopes.ROOT_FIELDS` lists for it: any other root field,
    introspection included, refuses the whole operation with FORBIDDEN before it is
    validated or run, whatever the field's own permission says."""

    def on_validate(self) -> Iterator[None]:
        # After ValidationCache (it sets pre_execution_errors): this replaces its result.
        context = self.execution_context
        viewer = getattr(context.context, "viewer", None)
        document = context.graphql_document
        if viewer is not None and document is not None:
            refused = refused_fields(viewer.scope, document, context.operation_name)
            if refused:
                allowed = sorted(f.split(".", 1)[1] for f in ROOT_FIELDS.get(viewer.scope, ()))
                context.context.deny(", ".join(refused), f"token scope {viewer.scope.value}")
                context.pre_execution_errors = [
                    Forbidden(
                        f"This API token (scope {viewer.scope.value}) may only call: "
                        f"{', '.join(allowed) or 'nothing'}.",
                        refused=refused,
                    )
                ]
        yield
