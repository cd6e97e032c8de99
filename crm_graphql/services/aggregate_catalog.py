"""What each entity can be grouped by and measured on (issue 17): one catalog per
entity, read by the aggregate machinery (`services/aggregates.py`) and by the schema,
which turns it into the `<Entity>AggregateField` enums.

Every expression reads the row alias `r` (the entity's visible, filtered rows), the
joined company `crm_c` (contacts, contracts and invoices: a foreign key, so one row per
row) or a lead's tag links `crm_t` (one row per tag: grouping by tag puts a lead in
each of its tags' groups)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from crm_graphql.models.customfields import CustomFieldEntity


class Kind(Enum):
    TEXT = "text"
    ENUM = "enum"
    BOOL = "bool"
    INT = "int"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    REF = "ref"


NUMERIC = {Kind.INT, Kind.MONEY}
DATES = {Kind.DATE, Kind.DATETIME}

COMPANY_JOIN = 'LEFT JOIN "companies" crm_c ON crm_c."id" = r."company_id"'
TAG_JOIN = 'LEFT JOIN "lead_tag_links" crm_t ON crm_t."lead_id" = r."id"'
# A lead's managing company as the viewer may see it (null when hidden): a column the
# resolver adds to the set with the company rule (`aggregates.Guard`).
LEAD_COMPANY_SEEN = "crm_company_seen"


@dataclass(frozen=True)
class Field:
    """One groupable or measurable field. `label`: (table, column) naming a REF's id."""

    sql: str
    kind: Kind
    description: str
    label: tuple[str, str] | None = None
    join: str | None = None


@dataclass(frozen=True)
class Catalog:
    entity: str  # the GraphQL name stem: "invoices" -> invoicesAggregate
    type_name: str  # "Invoice" -> InvoiceAggregateField
    fields: dict[str, Field]
    custom: CustomFieldEntity | None  # whose custom fields may be dimensions


def _col(name: str) -> str:
    return f'r."{name}"'


def _ref(column: str, table: str, label: str, what: str, join: str | None = None) -> Field:
    sql = column if join else _col(column)
    return Field(sql, Kind.REF, what, (table, label), join)


COMPANY_NAME = ("companies", "name")
USER_NAME = ("users", "username")


def _company_fields() -> dict[str, Field]:
    """The company of a contact, contract or invoice and that company's role, country
    and manager (through the joined company row)."""
    return {
        "COMPANY": _ref("company_id", *COMPANY_NAME, "The company (label: its name)."),
        "COMPANY_ROLE": _ref(
            'crm_c."role_id"', "company_roles", "name", "The company's role.", COMPANY_JOIN
        ),
        "COMPANY_COUNTRY": Field(
            'crm_c."country"', Kind.TEXT, "The company's country.", join=COMPANY_JOIN
        ),
        "COMPANY_MANAGER": _ref(
            'crm_c."manager_id"',
            *USER_NAME,
            "The company's manager (label: username).",
            COMPANY_JOIN,
        ),
    }


def _dates(**columns: tuple[str, Kind, str]) -> dict[str, Field]:
    return {name: Field(_col(col), kind, what) for name, (col, kind, what) in columns.items()}


CREATED = ("created_at", Kind.DATETIME, "When it was created.")
UPDATED = ("updated_at", Kind.DATETIME, "When it last changed.")

COMPANIES = Catalog(
    "companies",
    "Company",
    {
        "COUNTRY": Field(_col("country"), Kind.TEXT, "The country (empty when not set)."),
        "ROLE": _ref("role_id", "company_roles", "name", "The company role (label: its name)."),
        "MANAGER": _ref("manager_id", *USER_NAME, "The manager (label: username)."),
        "PAYMENT_CONDITIONS": Field(
            _col("payment_conditions"), Kind.INT, "Payment conditions, in days."
        ),
        **_dates(
            CREATED_AT=CREATED,
            LAST_UPDATE=("last_update", Kind.DATETIME, "The last update."),
            LAST_ACTIVITY=("last_activity_at", Kind.DATETIME, "The latest activity."),
        ),
    },
    CustomFieldEntity.COMPANY,
)

CONTACTS = Catalog(
    "contacts",
    "Contact",
    {
        **_company_fields(),
        "POSITION": Field(_col("position"), Kind.TEXT, "The position."),
        "DISABLED": Field(_col("disabled"), Kind.BOOL, "Whether the contact is disabled."),
        **_dates(CREATED_AT=CREATED, UPDATED_AT=UPDATED),
    },
    CustomFieldEntity.CONTACT,
)

CONTRACTS = Catalog(
    "contracts",
    "Contract",
    {
        **_company_fields(),
        "STATUS": Field(_col("status"), Kind.ENUM, "The status (INACTIVE, ACTIVE, PENDING)."),
        "TYPE": _ref("contract_type_id", "contract_types", "name", "The contract type."),
        "OWNER": _ref("owner_id", *USER_NAME, "The owner (label: username)."),
        "PRIVATE": Field(_col("private"), Kind.BOOL, "Whether the contract is private."),
        **_dates(
            DATE_BEGIN=("date_begin", Kind.DATE, "The start date."),
            DATE_END=("date_end", Kind.DATE, "The end date."),
            CREATED_AT=CREATED,
            UPDATED_AT=UPDATED,
        ),
    },
    CustomFieldEntity.CONTRACT,
)

INVOICES = Catalog(
    "invoices",
    "Invoice",
    {
        **_company_fields(),
        "KIND": Field(_col("kind"), Kind.ENUM, "SUBMITTED or RECEIVED."),
        "STATUS": Field(_col("status"), Kind.ENUM, "PENDING, PAID or CANCELED."),
        "CURRENCY": Field(_col("currency"), Kind.TEXT, "The currency (ISO 4217)."),
        "LANGUAGE": Field(_col("language"), Kind.TEXT, "The language."),
        "LOCKED": Field(_col("locked"), Kind.BOOL, "Whether the invoice is locked."),
        "BASE": Field(_col("base_cents"), Kind.MONEY, "The base (sum of the lines)."),
        "TOTAL": Field(_col("total_cents"), Kind.MONEY, "The total, taxes included."),
        **_dates(
            ISSUED_ON=("issued_on", Kind.DATE, "The creation date."),
            EXPIRES_ON=("expires_on", Kind.DATE, "The expiration date."),
            PAID_ON=("paid_on", Kind.DATE, "The effective payment date."),
            CREATED_AT=CREATED,
        ),
    },
    None,
)

LEADS = Catalog(
    "leads",
    "Lead",
    {
        "OWNER": _ref("owner_id", *USER_NAME, "The owner (label: username)."),
        "COMPANY": _ref(
            LEAD_COMPANY_SEEN,
            *COMPANY_NAME,
            "The managing company (null when none or hidden from you).",
        ),
        "TYPE": _ref("lead_type_id", "lead_types", "name", "The lead type."),
        "TAG": _ref(
            'crm_t."tag_id"',
            "lead_tags",
            "name",
            "A tag: a lead counts in the group of each of its tags (null: untagged).",
            TAG_JOIN,
        ),
        "CHANNEL": Field(_col("channel"), Kind.TEXT, "The channel."),
        "COUNTRY": Field(_col("country"), Kind.TEXT, "The country."),
        "LANGUAGE": Field(_col("language"), Kind.TEXT, "The language."),
        "PRODUCT": Field(_col("product"), Kind.TEXT, "The product or category."),
        "PROGRESS": Field(_col("progress"), Kind.INT, "The progress code."),
        "CURRENCY": Field(_col("currency"), Kind.TEXT, "The currency (ISO 4217)."),
        "DUPLICATE": Field(_col("duplicate"), Kind.BOOL, "Flagged as a duplicate."),
        "ESTIMATED_SALE": Field(_col("estimated_sale_cents"), Kind.MONEY, "The estimated sale."),
        **_dates(
            CLOSE_DATE=("close_date", Kind.DATE, "The estimated close date."),
            CREATED_AT=CREATED,
            UPDATED_AT=UPDATED,
        ),
    },
    CustomFieldEntity.LEAD,
)

CATALOGS: dict[str, Catalog] = {
    c.entity: c for c in (COMPANIES, CONTACTS, CONTRACTS, INVOICES, LEADS)
}
