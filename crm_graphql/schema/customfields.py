"""Custom field types, shared by every entity that has custom fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from tortoise.expressions import Q

from crm_graphql.ids import id_number, shown
from crm_graphql.models.customfields import (
    CustomField,
    CustomFieldEntity,
    CustomFieldKind,
    CustomFieldSection,
)
from crm_graphql.schema.common import UserError, model_enum
from crm_graphql.services import customfields
from crm_graphql.services.listing import ListError


@strawberry.enum(name="CustomFieldKind", description="What a custom field holds.")
class CustomFieldKindEnum(Enum):
    CHECKBOX = strawberry.enum_value("CHECKBOX", description="True or false.")
    COMBO = strawberry.enum_value("COMBO", description="One of a list of options.")
    LINKED = strawberry.enum_value(
        "LINKED", description="An option that depends on a parent linked field's value."
    )
    DATE = strawberry.enum_value("DATE", description="A calendar date.")
    NUMERIC = strawberry.enum_value("NUMERIC", description="A decimal number.")
    TEXT = strawberry.enum_value("TEXT", description="One line of text (255 characters).")
    TEXTAREA = strawberry.enum_value("TEXTAREA", description="Free text (10,000 characters).")


@strawberry.enum(name="CustomFieldEntity", description="The kind of object a field is on.")
class CustomFieldEntityEnum(Enum):
    COMPANY = strawberry.enum_value("COMPANY", description="Companies.")
    CONTACT = strawberry.enum_value("CONTACT", description="Contacts.")
    CONTRACT = strawberry.enum_value("CONTRACT", description="Contracts of one contract type.")
    LEAD = strawberry.enum_value("LEAD", description="Leads of one lead type.")


@strawberry.type(name="CustomFieldSection", description="A block of company custom fields.")
class CustomFieldSectionType:
    id: strawberry.ID = strawberry.field(description="Section id.")
    name: str = strawberry.field(description="Section name (unique).")
    description: str = strawberry.field(description="What the section groups.")
    position: int = strawberry.field(description="Display order.")


WITHOUT_SECTION = "Without section"


@strawberry.type(name="CustomField", description="A custom field definition.")
class CustomFieldType:
    id: strawberry.ID = strawberry.field(description="Field id.")
    name: str = strawberry.field(description="Label (unique per entity and type).")
    position: int = strawberry.field(description="Display order.")
    options: list[str] = strawberry.field(
        description='COMBO: the options. LINKED: "parent value|option" pairs (or plain '
        "options for a top-level linked field)."
    )
    required: bool = strawberry.field(description="A value must be given.")
    show_in_list: bool = strawberry.field(description="Shown as a list and CSV column.")
    owner_id: strawberry.ID | None = strawberry.field(
        description="The contract type or lead type the field belongs to."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        description="LINKED: the parent linked field."
    )
    section_id: strawberry.ID | None = strawberry.field(
        description='Company fields: the section; null is "Without section".'
    )
    version: int = strawberry.field(description="Changes on every update.")

    @strawberry.field(description="What the field holds.")
    def kind(self, root: strawberry.Parent[CustomField]) -> CustomFieldKindEnum:
        return CustomFieldKindEnum(root.kind.value)

    @strawberry.field(description="The kind of object the field is on.")
    def entity(self, root: strawberry.Parent[CustomField]) -> CustomFieldEntityEnum:
        return CustomFieldEntityEnum(root.entity.value)


@strawberry.type(name="CustomFieldValue", description="A custom field of an object, and its value.")
class CustomFieldValueType:
    field: CustomField = strawberry.field(
        graphql_type=CustomFieldType, description="The definition."
    )
    value: str | None = strawberry.field(
        description='The value as text ("1"/"0" for checkboxes, YYYY-MM-DD for dates); '
        "null when not set."
    )
    section_name: str | None = strawberry.field(
        description='Company fields: the section\'s name, or "Without section".'
    )

    @strawberry.field(description="The field's label.")
    def name(self) -> str:
        return self.field.name

    @strawberry.field(description="The field's kind.")
    def kind(self) -> CustomFieldKindEnum:
        return CustomFieldKindEnum(self.field.kind.value)

    @strawberry.field(description="NUMERIC: the value as a number.")
    def number(self) -> Decimal | None:
        if self.value is None or self.field.kind != CustomFieldKind.NUMERIC:
            return None
        return Decimal(self.value)

    @strawberry.field(description="DATE: the value as a date.")
    def date(self) -> date | None:
        if self.value is None or self.field.kind != CustomFieldKind.DATE:
            return None
        return date.fromisoformat(self.value)

    @strawberry.field(description="CHECKBOX: the value as a boolean.")
    def checked(self) -> bool | None:
        if self.field.kind != CustomFieldKind.CHECKBOX:
            return None
        return self.value == "1"


def value_list(
    definitions: list[CustomField],
    values: dict[int, str],
    sections: dict[int, str] | None = None,
) -> list[CustomFieldValueType]:
    """Every defined field with the object's value (null when unset), in field order."""
    return [
        CustomFieldValueType(
            field=definition,
            value=values.get(definition.id),
            section_name=(
                (sections or {}).get(definition.section_id, WITHOUT_SECTION)
                if definition.section_id is not None
                else (WITHOUT_SECTION if sections is not None else None)
            ),
        )
        for definition in definitions
    ]


@strawberry.input(description="Set one custom field; a null value clears it.")
class CustomFieldValueInput:
    field_id: strawberry.ID = strawberry.field(description="The field.")
    value: str | None = strawberry.field(
        default=None,
        description='The value as text: "true"/"false" for checkboxes, YYYY-MM-DD for dates, '
        "a number, an option.",
    )


@strawberry.input(
    description="Objects whose value of one custom field matches; all given conditions hold."
)
class CustomFieldFilter:
    field_id: strawberry.ID = strawberry.field(description="The field.")
    eq: str | None = strawberry.field(default=strawberry.UNSET, description="Equal to.")
    contains: str | None = strawberry.field(
        default=strawberry.UNSET, description="Contains, ignoring case."
    )
    in_: list[str] | None = strawberry.field(
        name="in", default=strawberry.UNSET, description="One of."
    )
    is_set: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True: has a value. False: has none."
    )


def custom_fields_q(filters: list[Any], prefix: str = "") -> Q:
    """Q for a list of CustomFieldFilter inputs (values compared as canonical text)."""
    parts: list[Q] = []
    column = f"{prefix}id"
    for flt in filters:
        field_id = id_number(flt.field_id)
        if field_id is None:
            raise ListError(f"'{shown(flt.field_id)}' is not a valid field id.")
        if isinstance(flt.eq, str):
            parts.append(customfields.value_filter_q(field_id, "", flt.eq, column))
        if isinstance(flt.contains, str):
            parts.append(customfields.value_filter_q(field_id, "icontains", flt.contains, column))
        if isinstance(flt.in_, list):
            parts.append(customfields.value_filter_q(field_id, "in", flt.in_, column))
        if isinstance(flt.is_set, bool):
            has = customfields.value_filter_q(field_id, "isnull", False, column)
            parts.append(has if flt.is_set else ~has)
    return Q(*parts) if parts else Q()


@strawberry.input(description="A new custom field.")
class CustomFieldCreateInput:
    entity: CustomFieldEntityEnum = strawberry.field(description="The kind of object.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="CONTRACT/LEAD: the contract type or lead type."
    )
    name: str = strawberry.field(description="Label.")
    kind: CustomFieldKindEnum = strawberry.field(description="What it holds.")
    position: int = strawberry.field(default=0, description="Display order.")
    options: list[str] = strawberry.field(
        default_factory=list, description="COMBO and LINKED options."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="LINKED: the parent linked field."
    )
    section_id: strawberry.ID | None = strawberry.field(
        default=None, description="COMPANY: the section."
    )
    required: bool = strawberry.field(default=False, description="A value must be given.")
    show_in_list: bool = strawberry.field(
        default=False, description="Show as a list and CSV column."
    )


@strawberry.input(description="Changes to a custom field; omitted fields stay.")
class CustomFieldUpdateInput:
    id: strawberry.ID = strawberry.field(description="The field.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read (refused when stale)."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Label.")
    position: int | None = strawberry.field(default=strawberry.UNSET, description="Order.")
    options: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Options.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="LINKED parent."
    )
    section_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Section (null: without section)."
    )
    required: bool | None = strawberry.field(default=strawberry.UNSET, description="Required.")
    show_in_list: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Show as a column."
    )


@strawberry.type(description="Result of a custom field mutation.")
class CustomFieldPayload:
    custom_field: CustomField | None = strawberry.field(
        graphql_type=CustomFieldType | None, description="The field."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.input(description="A new custom field section.")
class CustomFieldSectionCreateInput:
    name: str = strawberry.field(description="Name (unique).")
    description: str = strawberry.field(default="", description="What it groups.")
    position: int = strawberry.field(default=0, description="Display order.")


@strawberry.input(description="Changes to a section; omitted fields stay.")
class CustomFieldSectionUpdateInput:
    id: strawberry.ID = strawberry.field(description="The section.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Description.")
    position: int | None = strawberry.field(default=strawberry.UNSET, description="Order.")


@strawberry.type(description="Result of a section mutation.")
class CustomFieldSectionPayload:
    section: CustomFieldSection | None = strawberry.field(
        graphql_type=CustomFieldSectionType | None, description="The section."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


def entity_of(value: CustomFieldEntityEnum) -> CustomFieldEntity:
    return model_enum(CustomFieldEntity, value)


def kind_of(value: CustomFieldKindEnum) -> CustomFieldKind:
    return model_enum(CustomFieldKind, value)
