"""What the compiler covers: per GraphQL object type, its model and, per field, how the
database reads it. A field not listed here is not covered (the operation runs on the
executor). The rules come from the same functions today's loaders and resolvers use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tortoise.expressions import Q
from tortoise.models import Model

from crm_graphql.dataloaders.companies import CHILD_ORDER
from crm_graphql.dataloaders.contracts import CONTRACT_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract
from crm_graphql.permissions.companies import visible_companies_q
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey

# How a column becomes its JSON value (sql.Dialect): the API's scalar formats.
ID, TEXT, INT, BOOL, DATE, ENUM, MONEY = "id", "text", "int", "bool", "date", "enum", "money"

Visible = Callable[[Viewer], Q]


@dataclass(frozen=True)
class Column:
    """A field read straight from a column of the row."""

    column: str
    kind: str


@dataclass(frozen=True)
class Single:
    """A nested object by a foreign key of the row, null when invisible or missing."""

    type_name: str
    fk: str
    visible: Visible


@dataclass(frozen=True)
class Nested:
    """A nested connection: the rows whose `parent` column is the row's id, at most
    `first` of them per parent (the nested page size limits), in `keys` order."""

    type_name: str
    parent: str
    keys: Sequence[SortKey]
    visible: Visible


@dataclass(frozen=True)
class TypeSpec:
    model: type[Model]
    fields: dict[str, Column | Single | Nested] = field(default_factory=dict)


def _companies(viewer: Viewer) -> Q:
    return visible_companies_q(viewer)


def _contracts(viewer: Viewer) -> Q:
    return visible_contracts_q(viewer)


TYPES: dict[str, TypeSpec] = {
    "Company": TypeSpec(
        Company,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "address": Column("address", TEXT),
            "fiscalId": Column("fiscal_id", TEXT),
            "country": Column("country", TEXT),
            "website": Column("website", TEXT),
            "comments": Column("comments", TEXT),
            "paymentConditions": Column("payment_conditions", INT),
            "officePhone": Column("office_phone", TEXT),
            "generalEmail": Column("general_email", TEXT),
            "version": Column("version", INT),
            "parent": Single("Company", "parent_id", _companies),
            "children": Nested("Company", "parent_id", CHILD_ORDER, _companies),
            "contracts": Nested("Contract", "company_id", CONTRACT_ORDER, _contracts),
        },
    ),
    "Contract": TypeSpec(
        Contract,
        {
            "id": Column("id", ID),
            "reference": Column("reference", TEXT),
            "number": Column("number", TEXT),
            "description": Column("description", TEXT),
            "dateBegin": Column("date_begin", DATE),
            "dateEnd": Column("date_end", DATE),
            "private": Column("private", BOOL),
            "slaId": Column("sla_id", INT),
            "groupId": Column("group_id", INT),
            "version": Column("version", INT),
            "status": Column("status", ENUM),
            "company": Single("Company", "company_id", _companies),
        },
    ),
}


def is_empty(q: Q) -> bool:
    """Q(): no condition at all (a superadmin's rule)."""
    return not q.children and not q.filters
