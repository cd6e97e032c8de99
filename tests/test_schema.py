"""The schema as a contract: checked-in SDL, a permission on every root field, a
description on everything a GraphiQL user reads."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
)
from strawberry.permission import PermissionExtension

from crm_graphql.api import schema

ROOT = Path(__file__).resolve().parent.parent

# Root fields anyone may call without a token. Adding one is a security decision.
PUBLIC_FIELDS = {("Mutation", "login")}


def test_schema_file_is_current() -> None:
    checked_in = (ROOT / "schema.graphql").read_text()
    assert checked_in.strip() == str(schema).strip(), (
        "schema.graphql is stale: run `crm-graphql schema > schema.graphql`"
    )


def test_every_root_field_declares_a_permission() -> None:
    unguarded = []
    for type_name in ("Query", "Mutation"):
        definition = schema.get_type_by_name(type_name)
        assert definition is not None
        for field in definition.fields:
            guarded = any(isinstance(e, PermissionExtension) for e in field.extensions)
            name = schema.config.name_converter.from_field(field)
            if not guarded and (type_name, name) not in PUBLIC_FIELDS:
                unguarded.append(f"{type_name}.{name}")
    assert unguarded == [], f"root fields without a permission: {unguarded}"


def test_public_list_names_only_existing_unguarded_fields() -> None:
    for type_name, field_name in PUBLIC_FIELDS:
        definition = schema.get_type_by_name(type_name)
        field = next(
            f for f in definition.fields if schema.config.name_converter.from_field(f) == field_name
        )
        assert not any(isinstance(e, PermissionExtension) for e in field.extensions)


def test_everything_has_a_description() -> None:
    missing: list[str] = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or (
            isinstance(gql_type, GraphQLScalarType)
            and name in {"String", "Int", "Boolean", "ID", "Float"}
        ):
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gql_type, GraphQLEnumType):
            for value_name, value in gql_type.values.items():
                if not value.description:
                    missing.append(f"{name}.{value_name}")
    assert missing == []


def test_permission_bit_enum_lists_every_bit_in_order() -> None:
    # The enum is written out for the type checker; the bits live in models/users.py.
    from crm_graphql.models.users import PERMISSION_BITS

    enum = schema._schema.type_map["PermissionBit"]
    assert isinstance(enum, GraphQLEnumType)
    assert tuple(enum.values) == PERMISSION_BITS
