"""What the compiler covers: per GraphQL object type, its model and, per field, how the
database reads it. A field not listed here is not covered (the operation runs on the
executor). The rules come from the same functions today's loaders and resolvers use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tortoise.expressions import Q
from tortoise.models import Model

from crm_graphql.dataloaders.companies import CHILD_ORDER, CONTACT_ORDER
from crm_graphql.dataloaders.contracts import CONTRACT_ORDER, INVOICE_LINK_ORDER
from crm_graphql.models.companies import Company, CompanyBilling
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractInvoice
from crm_graphql.models.invoices import Invoice, InvoiceLine
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import (
    can_manage_company,
    editable_companies_q,
    visible_companies_q,
)
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import visible_invoices_q
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey

# How a column becomes its JSON value (sql.Dialect): the API's scalar formats.
ID, TEXT, INT, BOOL, DATE, ENUM, MONEY = "id", "text", "int", "bool", "date", "enum", "money"
DATETIME = "datetime"

Visible = Callable[[Viewer], Q]


@dataclass(frozen=True)
class Column:
    """A field read straight from a column of the row."""

    column: str
    kind: str


@dataclass(frozen=True)
class Single:
    """A nested object by a foreign key of the row, null when invisible or missing
    (`visible` None: the loader the resolver uses applies no rule)."""

    type_name: str
    fk: str
    visible: Visible | None


@dataclass(frozen=True)
class Flags:
    """An object of booleans about the row (viewerCan): per key, an SQL rule over the
    rows (`Viewer -> Q`, true for the rows it selects) or a constant of the viewer."""

    rules: dict[str, Callable[[Viewer], Q | bool]]


@dataclass(frozen=True)
class Nested:
    """A nested connection: the rows whose `parent` column is the row's id, at most
    `first` of them per parent (the nested page size limits), in `keys` order."""

    type_name: str
    parent: str
    keys: Sequence[SortKey]
    visible: Visible | None


@dataclass(frozen=True)
class Linked:
    """A nested connection through a link table: the `link` rows whose `parent` column
    is the row's id, in `keys` order (of the link), each giving the visible row of
    `type_name` its `target` column names; at most `first` per parent."""

    type_name: str
    link: type[Model]
    parent: str
    target: str
    keys: Sequence[SortKey]
    visible: Visible


@dataclass(frozen=True)
class Rows:
    """A plain list: every row of `spec_name` whose `parent` column is the row's id,
    in `keys` order (rows that belong to their parent: no rule of their own)."""

    spec_name: str
    parent: str
    keys: Sequence[SortKey]


@dataclass(frozen=True)
class TypeSpec:
    model: type[Model]
    fields: dict[str, Column | Single | Nested | Linked | Rows | Flags] = field(
        default_factory=dict
    )


def _companies(viewer: Viewer) -> Q:
    return visible_companies_q(viewer)


# Nested rows are read a few per parent: their rules read each row's company through a
# join rather than building the set of every visible company (`company_columns_via`).
def _contracts(viewer: Viewer) -> Q:
    return visible_contracts_q(viewer, via="company")


def _invoices(viewer: Viewer) -> Q:
    return visible_invoices_q(viewer, via="company")


def _company_edit(viewer: Viewer) -> Q:
    # can_edit_company over the visible companies, in SQL (the same rule).
    return editable_companies_q(viewer)


def _company_manage(viewer: Viewer) -> bool:
    # can_manage_company reads only the viewer (the company is visible already).
    return can_manage_company(viewer, Company())


# Lines and taxes in their loader's order (dataloaders/invoices._grouped).
POSITION_ORDER = [SortKey("position"), SortKey("id")]


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
            "lastUpdate": Column("last_update", DATETIME),
            "createdAt": Column("created_at", DATETIME),
            "lastActivity": Column("last_activity_at", DATETIME),
            "parent": Single("Company", "parent_id", _companies),
            "children": Nested("Company", "parent_id", CHILD_ORDER, _companies),
            "contracts": Nested("Contract", "company_id", CONTRACT_ORDER, _contracts),
            "contacts": Nested("Contact", "company_id", CONTACT_ORDER, None),
            "manager": Single("User", "manager_id", None),
            # `delete` is not covered (its rule has no SQL form of its own).
            "viewerCan": Flags({"edit": _company_edit, "manage": _company_manage}),
            # Needs IR: the field's own @auth decides at plan time (plan.permitted).
            "billing": Rows("CompanyBilling", "company_id", [SortKey("currency"), SortKey("id")]),
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
            "createdAt": Column("created_at", DATETIME),
            "updatedAt": Column("updated_at", DATETIME),
            "version": Column("version", INT),
            "status": Column("status", ENUM),
            "company": Single("Company", "company_id", _companies),
            "relatedInvoices": Linked(
                "Invoice",
                ContractInvoice,
                "contract_id",
                "invoice_id",
                INVOICE_LINK_ORDER,
                _invoices,
            ),
        },
    ),
    "Invoice": TypeSpec(
        Invoice,
        {
            "id": Column("id", ID),
            "billId": Column("bill_id", TEXT),
            "reference": Column("reference", TEXT),
            "issuedOn": Column("issued_on", DATE),
            "expiresOn": Column("expires_on", DATE),
            "paidOn": Column("paid_on", DATE),
            "language": Column("language", TEXT),
            "currency": Column("currency", TEXT),
            "discountConcept": Column("discount_concept", TEXT),
            "retentionConcept": Column("retention_concept", TEXT),
            "description": Column("description", TEXT),
            "internalNote": Column("internal_note", TEXT),
            "locked": Column("locked", BOOL),
            "createdAt": Column("created_at", DATETIME),
            "updatedAt": Column("updated_at", DATETIME),
            "version": Column("version", INT),
            "kind": Column("kind", ENUM),
            "status": Column("status", ENUM),
            "base": Column("base_cents", MONEY),
            "total": Column("total_cents", MONEY),
            "company": Single("Company", "company_id", _companies),
            "lines": Rows("InvoiceLine", "invoice_id", POSITION_ORDER),
        },
    ),
    "Contact": TypeSpec(
        Contact,
        {
            "id": Column("id", ID),
            "fullName": Column("full_name", TEXT),
            "email": Column("email", TEXT),
            "phone": Column("phone", TEXT),
            "mobile": Column("mobile", TEXT),
            "position": Column("position", TEXT),
            "description": Column("description", TEXT),
            "disabled": Column("disabled", BOOL),
            "createdAt": Column("created_at", DATETIME),
            "updatedAt": Column("updated_at", DATETIME),
            "version": Column("version", INT),
            "company": Single("Company", "company_id", _companies),
        },
    ),
    "User": TypeSpec(
        User,
        {
            "id": Column("id", ID),
            "username": Column("username", TEXT),
            "realName": Column("real_name", TEXT),
            "email": Column("email", TEXT),
            "phone": Column("phone", TEXT),
            "employeeNumber": Column("employee_number", TEXT),
            "location": Column("location", TEXT),
            "language": Column("language", TEXT),
            "mode": Column("mode", ENUM),
            "isSuperadmin": Column("is_superadmin", BOOL),
            "enabled": Column("enabled", BOOL),
            "loginEnabled": Column("login_enabled", BOOL),
            "version": Column("version", INT),
            "createdAt": Column("created_at", DATETIME),
            "updatedAt": Column("updated_at", DATETIME),
        },
    ),
    "InvoiceLine": TypeSpec(
        InvoiceLine,
        {"concept": Column("concept", TEXT), "amount": Column("amount_cents", MONEY)},
    ),
    # Company.billing's CurrencyAmount rows (dataloaders/companies._billing's order).
    "CompanyBilling": TypeSpec(
        CompanyBilling,
        {"currency": Column("currency", TEXT), "amount": Column("cents", MONEY)},
    ),
}


def is_empty(q: Q) -> bool:
    """Q(): no condition at all (a superadmin's rule)."""
    return not q.children and not q.filters
