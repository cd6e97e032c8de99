"""Typed filters to one SQL condition (a Tortoise Q), following a `FilterSpec`: scalar
conditions, relations guarded by what the viewer may see, and `not` pushed down to
the conditions so a negation never drops rows where a condition is NULL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.models import Model

from crm_graphql.services.listing.inputs import is_set
from crm_graphql.services.listing.specs import FilterSpec, ListError, Relation, ViewerCondition
from crm_graphql.services.orm import lookup_q

_SCALAR_OPS: dict[str, str] = {
    "eq": "",
    "in_": "__in",
    "lt": "__lt",
    "lte": "__lte",
    "gt": "__gt",
    "gte": "__gte",
    "contains": "__icontains",
    "is_null": "__isnull",
}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _enum_check(field: Any) -> Callable[[Any], Any] | None:
    """For an enum column, a check that a compared value is one of its values: Tortoise
    raises a bare ValueError on any other, which would surface as an internal error."""
    enum_type = getattr(field, "enum_type", None)
    if enum_type is None:
        return None
    allowed = {str(member.value) for member in enum_type}

    def check(value: Any) -> Any:
        if isinstance(value, list):
            return [check(v) for v in value]
        if str(value) not in allowed:
            raise ListError(f"'{value}' is not one of {', '.join(sorted(allowed))}.")
        return value

    return check


def _graphql_name(attr: str) -> str:
    """The input field's GraphQL name (strawberry's camelCase; `in_` is `in`)."""
    head, *rest = attr.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _field_at(model: type[Model] | None, path: str) -> Any:
    """The model field a lookup path (`company__name`) ends on, or None."""
    field: Any = None
    for name in path.split("__"):
        if model is None:
            return None
        field = model._meta.fields_map.get(name)
        model = getattr(field, "related_model", None)
    return field


def _check_length(value: Any, field: Any, at: str) -> None:
    """A string longer than its column can match nothing, and PostgreSQL (and Tortoise's
    own validation) refuses it: the client's error, named by its path."""
    limit = getattr(field, "max_length", None)
    if not isinstance(limit, int):
        return
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and len(item) > limit:
            raise ListError(f"`{at}` is longer than the column's {limit} characters.")


@dataclass(frozen=True)
class _Atom:
    """One condition. `null_path`: the column whose NULL makes `q` NULL rather than
    false (None: `q` is never NULL). `opaque`: built by a spec's callable, so how it
    behaves on NULL is unknown."""

    q: Q
    null_path: str | None = None
    opaque: bool = False


@dataclass(frozen=True)
class _Group:
    join: str  # Q.AND or Q.OR
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Not:
    item: Any


def _guarded(atom: _Atom, guard: Q | None, is_null: Any = None) -> _Atom:
    """`atom` through guarded relations: a hidden related row counts as none, so the
    condition holds only with a visible one, except `isNull: true`, which a hidden row
    satisfies too."""
    if guard is None:
        return atom
    if is_null is True:
        return _Atom(Q(atom.q, ~guard, join_type=Q.OR), atom.null_path, atom.opaque)
    return _Atom(Q(atom.q, guard), atom.null_path, atom.opaque)


def _scalar_atoms(
    path: str, scalar: Any, field: Any = None, at: str = "filter", guard: Q | None = None
) -> list[_Atom]:
    coerce = getattr(scalar, "coerce", None) or _enum_check(field) or (lambda v: v)
    # A condition on a NOT NULL column of this table is never NULL; through a relation
    # (a LEFT JOIN) it is NULL when there is no related row.
    null_path = None if "__" not in path and not getattr(field, "null", True) else path
    atoms: list[_Atom] = []
    for attr, suffix in _SCALAR_OPS.items():
        value = getattr(scalar, attr, None)
        if is_set(value):
            value = _plain(value)
            if attr not in ("is_null", "contains"):
                value = coerce(value)
                _check_length(value, field, f"{at}.{_graphql_name(attr)}")
            nullable = None if attr == "is_null" else null_path
            atom = _Atom(Q(**{f"{path}{suffix}": value}), nullable)
            atoms.append(_guarded(atom, guard, value if attr == "is_null" else None))
    neq = getattr(scalar, "neq", None)
    if is_set(neq):
        value = coerce(_plain(neq))
        _check_length(value, field, f"{at}.neq")
        atoms.append(_guarded(_Atom(~Q(**{path: value}), null_path), guard))
    return atoms


def _relation_guard(target: Relation, prefix: str, viewer: Any, outer: Q | None) -> Q | None:
    """The condition "the related row is one the viewer may see" (None: no restriction),
    combined with the guards of the relations it is reached through."""
    if target.visible is None:
        return outer
    ids = target.visible(viewer)
    if ids is None:
        return outer
    own = lookup_q({f"{prefix}{target.path}_id__in": ids})
    return own if outer is None else Q(outer, own)


def scalar_q(path: str, scalar: Any, field: Any = None) -> Q:
    atoms = _scalar_atoms(path, scalar, field)
    return Q(*(a.q for a in atoms)) if atoms else Q()


def _is_empty(q: Q) -> bool:
    return not q.children and not q.filters


def _formula(
    flt: Any,
    spec: FilterSpec,
    prefix: str,
    model: type[Model] | None,
    at: str,
    viewer: Any = None,
    guard: Q | None = None,
) -> Any:
    """The filter as a tree of _Group, _Not and _Atom (True: no condition). `guard`:
    the visibility condition of the guarded relations `prefix` goes through."""
    if not is_set(flt):
        return True
    parts: list[Any] = []
    for name, target in spec.items():
        value = getattr(flt, name, None)
        if not is_set(value):
            continue
        where = f"{at}.{_graphql_name(name)}"
        if isinstance(target, Relation):
            inner = _relation_guard(target, prefix, viewer, guard)
            sub_prefix = f"{prefix}{target.path}__"
            parts.append(_formula(value, target.spec, sub_prefix, model, where, viewer, inner))
        elif isinstance(target, ViewerCondition) or callable(target):
            if isinstance(target, ViewerCondition):
                q = target.build(value, prefix, viewer)
            else:
                q = target(value, prefix)
            # An empty Q means "no condition"; Tortoise would drop it from an OR.
            parts.append(True if _is_empty(q) else _guarded(_Atom(q, opaque=True), guard))
        elif isinstance(value, bool | int | str | Enum):
            # A plain value (`duplicate: true`) is an equality on the column.
            path = prefix + target
            field = _field_at(model, path)
            null_path = None if "__" not in path and not getattr(field, "null", True) else path
            parts.append(_guarded(_Atom(Q(**{path: _plain(value)}), null_path), guard))
        else:
            path = prefix + target
            parts.extend(_scalar_atoms(path, value, _field_at(model, path), where, guard))
    and_: Any = getattr(flt, "and_", None)
    if is_set(and_):
        parts.extend(
            _formula(sub, spec, prefix, model, f"{at}.and[{i}]", viewer, guard)
            for i, sub in enumerate(and_)
        )
    or_ = getattr(flt, "or_", None)
    if is_set(or_) and or_:
        branches = (
            _formula(sub, spec, prefix, model, f"{at}.or[{i}]", viewer, guard)
            for i, sub in enumerate(or_)
        )
        parts.append(_Group(Q.OR, tuple(branches)))
    not_ = getattr(flt, "not_", None)
    if is_set(not_):
        parts.append(_Not(_formula(not_, spec, prefix, model, f"{at}.not", viewer, guard)))
    return _Group(Q.AND, tuple(parts))


def _peel(node: Any, negate: bool) -> tuple[Any, bool]:
    """Double negation: `not` wrappers off, remembering whether an odd number was."""
    while isinstance(node, _Not):
        node, negate = node.item, not negate
    return node, negate


def _compile(node: Any, negate: bool, model: type[Model] | None) -> Q | bool:
    """SQL for `node` (its complement among all rows when `negate`), with negation
    pushed down to the conditions (De Morgan), so the SQL does not grow with the
    nesting of `not`. The complement of a condition that can be NULL includes the rows
    where it is NULL (`NOT (c) OR column IS NULL`), as set complement does; conditions
    whose NULL behaviour is unknown are complemented together, with one
    `id NOT IN (...)` per group at most."""
    node, negate = _peel(node, negate)
    if isinstance(node, bool):
        return node != negate
    if isinstance(node, _Atom):
        if not negate:
            return node.q
        if node.opaque:
            return _complement([node.q], Q.AND, model)
        q = ~node.q
        if node.null_path is not None:
            q = Q(q, lookup_q({f"{node.null_path}__isnull": True}), join_type=Q.OR)
        return q
    join = node.join if not negate else (Q.OR if node.join == Q.AND else Q.AND)
    absorbing = join == Q.OR  # True absorbs an OR, False an AND
    compiled: list[Q] = []
    opaque: list[Q] = []
    for item in node.items:
        item, item_negate = _peel(item, negate)
        if item_negate and isinstance(item, _Atom) and item.opaque:
            opaque.append(item.q)
            continue
        part = _compile(item, item_negate, model)
        if isinstance(part, bool):
            if part == absorbing:
                return absorbing
            continue  # the neutral constant
        compiled.append(part)
    if opaque:
        # not a and not b == not (a or b); not a or not b == not (a and b)
        compiled.append(_complement(opaque, Q.OR if join == Q.AND else Q.AND, model))
    if not compiled:
        return not absorbing
    return compiled[0] if len(compiled) == 1 else Q(*compiled, join_type=join)


def _complement(parts: list[Q], join: str, model: type[Model] | None) -> Q:
    inner = parts[0] if len(parts) == 1 else Q(*parts, join_type=join)
    if model is None:
        return ~inner
    pk = model._meta.pk_attr
    return ~lookup_q({f"{pk}__in": Subquery(model.filter(inner).values(pk))})


def filter_q(
    flt: Any,
    spec: FilterSpec,
    prefix: str = "",
    model: type[Model] | None = None,
    argument: str = "filter",
    *,
    viewer: Any = None,
) -> Q:
    """Translate a filter input object to one Tortoise Q, following `spec`.

    `viewer` decides what guarded relations (`Relation.visible`, `ViewerCondition`)
    reach: without one they reach nothing.

    With `model`, values are checked against enum columns and column lengths (errors
    name the path from `argument`), and `not` is the complement of its condition among
    `model`'s rows: a plain SQL `NOT (...)` would drop every row where the condition is
    NULL, such as users without a company under `not: {company: {name: {contains:
    "x"}}}`. Negation is pushed down to the conditions (see `_compile`), so any nesting
    of `not` gives SQL of the same size as the equivalent filter without it."""
    compiled = _compile(_formula(flt, spec, prefix, model, argument, viewer), False, model)
    if compiled is True:
        return Q()
    if compiled is False:
        return Q(id__in=[])  # matches nothing
    assert isinstance(compiled, Q)
    return compiled
