"""What the compiler covers: per GraphQL object type, its model and, per field, how the
database reads it. A field not listed here is not covered (the operation runs on the
executor). The rules come from the same functions today's loaders and resolvers use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q
from tortoise.models import Model

from crm_graphql.compiled.totals import DISCOUNT, RETENTION, SUBTOTAL, TAX, TAX_TOTAL
from crm_graphql.dataloaders.companies import ACTIVITY_ORDER, CHILD_ORDER, CONTACT_ORDER
from crm_graphql.dataloaders.contracts import CONTRACT_ORDER, INVOICE_LINK_ORDER
from crm_graphql.dataloaders.events import HISTORY_ORDER as CHANGE_ORDER
from crm_graphql.dataloaders.files import FILE_ORDER
from crm_graphql.dataloaders.invoices import INVOICE_ORDER, LINK_ORDER
from crm_graphql.dataloaders.leads import HISTORY_ORDER, LEAD_ACTIVITY_ORDER
from crm_graphql.dataloaders.users import ASSIGNMENT_ORDER
from crm_graphql.models.activities import Activity
from crm_graphql.models.companies import Company, CompanyBilling, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractInvoice, ContractLink, ContractType
from crm_graphql.models.customfields import CustomField, CustomFieldEntity, CustomFieldSection
from crm_graphql.models.events import Event, EventAction, EventObjectType
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax
from crm_graphql.models.leads import (
    CLOSED_FROM,
    PROGRESS_NAMES,
    Lead,
    LeadActivity,
    LeadHistory,
    LeadTag,
    LeadTagLink,
    LeadType,
    SavedLeadSearch,
)
from crm_graphql.models.mail import MailTemplate
from crm_graphql.models.setup import PaymentMethod
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.models.trash import TrashEntry, TrashType
from crm_graphql.models.users import Assignment, Group, Profile, User
from crm_graphql.permissions.activities import changeable_activities_q
from crm_graphql.permissions.companies import (
    CompanyColumns,
    can_delete_company,
    can_manage_company,
    company_columns_via,
    editable_companies_q,
    visible_companies_q,
)
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.files import deletable_files_q, visible_files_q
from crm_graphql.permissions.invoices import (
    deletable_invoices_q,
    editable_invoices_q,
    lockable_invoices_q,
    unlockable_invoices_q,
    visible_invoices_q,
)
from crm_graphql.permissions.leads import (
    deletable_leads,
    editable_leads,
    mailable_leads,
    takeable_leads,
    visible_leads_q,
)
from crm_graphql.permissions.users import SelfOrUserManager, access_rights_q
from crm_graphql.schema.events import encode_change_cursor
from crm_graphql.services.auth import Viewer
from crm_graphql.services.files.names import DOWNLOAD_PREFIX
from crm_graphql.services.listing import SortKey

# How a column becomes its JSON value (sql.Dialect): the API's scalar formats.
ID, TEXT, INT, BOOL, DATE, ENUM, MONEY = "id", "text", "int", "bool", "date", "enum", "money"
DATETIME = "datetime"
JSON = "json"
# A Decimal column as `Decimal(x).normalize() + Decimal(0)` prints it (no trailing zeros).
PERCENT = "percent"
# A number's text as `str(Decimal(text))` prints it (sql.Dialect.decimal_text).
DECIMAL = "decimal"

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
    """A plain list: every row of `spec_name` whose `parent` column is the row's id
    (and that `where` selects: SQL with `{t}` for the row's alias, no parameters), in
    `keys` order (rows that belong to their parent: no rule of their own)."""

    spec_name: str
    parent: str
    keys: Sequence[SortKey]
    where: str = ""


@dataclass(frozen=True)
class Expr:
    """A field computed from the row by an SQL expression: `sql` with `{t}` standing for
    the row's alias (only the row's own columns, no parameters)."""

    sql: str
    kind: str


@dataclass(frozen=True)
class Total:
    """An amount of the invoice whose id is the row's `invoice` column, computed as
    services.invoicing.compute_totals does (compiled/totals.py): `part` is discount,
    subtotal, taxTotal or retention; `tax`: the row is one of its taxes, its amount."""

    part: str
    invoice: str = "id"


@dataclass(frozen=True)
class Same:
    """A nested object read from the same row (CustomFieldValue.field: the definition
    row the value list is built from)."""

    type_name: str


@dataclass(frozen=True)
class Count:
    """The number of rows of `model` whose `parent` column is the row's id, among those
    `visible` selects (a count loader's SQL)."""

    model: type[Model]
    parent: str
    visible: Visible


@dataclass(frozen=True)
class Related:
    """A plain list of the visible `type_name` rows paired with the row in `link`
    (stored once per pair: the row's id in either column, the other one is the related
    row), by id, each once (dataloaders/contracts.ContractLoaders._related)."""

    type_name: str
    link: type[Model]
    one: str
    other: str
    visible: Visible


@dataclass(frozen=True)
class Sums:
    """A list of (currency, amount) objects: the `visible` rows of `model` whose
    `parent` column is the row's id, grouped by currency, `cents` summed (none: 0), by
    currency code (codepoint order, as Python sorts), as `spec_name` objects."""

    model: type[Model]
    parent: str
    visible: Visible
    cents: str
    spec_name: str


@dataclass(frozen=True)
class CustomFields:
    """`customFields`: every definition of `entity` (of the type the row's `owner`
    column names; None: definitions without owner) in (position, id) order, each with
    the row's value (null when unset) and, with `sections`, its section's name ("Without
    section" for none), else a null section name (schema.customfields.value_list)."""

    entity: CustomFieldEntity
    owner: str | None
    sections: bool


@dataclass(frozen=True)
class Tagged:
    """A plain list through a link table: the rows of `spec_name` that the `link` rows
    whose `parent` column is the row's id name in their `target` column, in `keys`
    order of those rows, compared as Python compares strings (code points: the loader
    sorts in Python), with no rule of their own."""

    spec_name: str
    link: type[Model]
    parent: str
    target: str
    keys: Sequence[SortKey]


@dataclass(frozen=True)
class AtLeast:
    """A boolean: the row's `column` is `value` or more."""

    column: str
    value: int


@dataclass(frozen=True)
class Flag:
    """A boolean about the row: an SQL rule over the rows (`Viewer -> Q`, true for the
    rows it selects) or a constant of the viewer (a lone flag of `Flags`)."""

    rule: Callable[[Viewer], Q | bool]


@dataclass(frozen=True)
class RootPath:
    """Text: the request's root path, `prefix`, then the row's id (File.downloadUrl:
    the resolver's `root_path + download_path(id)`)."""

    prefix: str


@dataclass(frozen=True)
class Encoded:
    """Text the server makes from the row's `column` with `encode` (Change.cursor:
    `encode_change_cursor`, base64 that SQLite cannot write): the database gives the
    value, `run._cursors` encodes it, as it does nested cursors."""

    column: str
    encode: Callable[[Any], str]


@dataclass(frozen=True)
class Stale:
    """A lead's `stale` (schema/leads/types.py): open (`progress` under `closed_from`)
    and `updated` before now less CRM setup's `lead_stale_days`."""

    progress: str
    updated: str
    closed_from: int


@dataclass(frozen=True)
class Progress:
    """A lead's progress step (schema.leads.lead_progress) from its `column`: code,
    name (CRM setup's override when not empty, else `names`), closed (`closed_from`)."""

    column: str
    names: dict[int, str]
    closed_from: int


@dataclass(frozen=True)
class StepName:
    """A progress step's name from the row's `column` (a code): CRM setup's override
    when not empty, else `names` (services.leads.progress_name), as `Progress.name`."""

    column: str
    names: dict[int, str]


@dataclass(frozen=True)
class Bits:
    """Permission bit names in PERMISSION_BITS order: the row's own true columns (a
    profile), or with `of_user` the union over the row's assignments' profiles, every bit
    for a superadmin (User.permissions: services.auth.bits_for_users)."""

    of_user: bool


Field = (
    (Column | Single | Nested | Linked | Rows | Flags | Expr | Same | Count | Sums | Related)
    | (CustomFields | Tagged | AtLeast | Stale | Progress | Total | Flag | RootPath | Encoded)
    | (StepName | Bits)
)


@dataclass(frozen=True)
class Guarded:
    """A field behind a permission decided per row (`permission`, e.g. SelfOrUserManager),
    whose refusal is the executor's error: `rule` is its SQL form beside it (`Viewer ->
    Q | bool`, true for the rows it allows); `field` is read for those rows, and any
    other row fails the statement on purpose (`Dialect.fallback`), so that the executor
    answers, with its error."""

    permission: type
    rule: Callable[[Viewer], Q | bool]
    field: Field


@dataclass(frozen=True)
class TypeSpec:
    model: type[Model]
    fields: dict[str, Field | Guarded] = field(default_factory=dict)


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


def _company_delete(viewer: Viewer) -> Q | bool:
    # can_delete_company: can_edit_company and (superadmin or CM); the second part
    # reads only the viewer.
    # A company the viewer could edit on every count stands for the row here, so the
    # function answers its viewer-only part; the row's part is editable_companies_q.
    # A user of no company: no company's id (0; a model refuses a null one), and a
    # STANDALONE one sees no company anyway.
    own = Company(id=viewer.user.company_id or 0, manager_id=viewer.user.id)
    if not can_delete_company(viewer, own):
        return False
    return editable_companies_q(viewer)


def _of_companies(rule: Callable[[Viewer, CompanyColumns], Q]) -> Callable[[Viewer], Q]:
    """A company rule applied to the row's company, read through the row's `company`
    relation (a join per row, not the set of every company it selects)."""

    def of(viewer: Viewer) -> Q:
        return rule(viewer, company_columns_via("company"))

    return of


def _company_row_manage(viewer: Viewer) -> Q | bool:
    # can_manage_company over the contract's company, which must be visible (the
    # resolver loads it with the company rule; an invisible one gives all false).
    if not _company_manage(viewer):
        return False
    return _of_companies(visible_companies_q)(viewer)


# Contract.viewerCan and Contact.viewerCan: edit (and delete) is can_edit_company of the
# row's visible company (can_edit_contract is that too).
_COMPANY_ROW_CAN = Flags(
    {
        "edit": _of_companies(editable_companies_q),
        "manage": _company_row_manage,
        "delete": _of_companies(editable_companies_q),
    }
)


def _files(kind: FileOwner) -> Visible:
    """The files of an owner of `kind` the viewer can see (the files loader's rule)."""

    def visible(viewer: Viewer) -> Q:
        return Q(visible_files_q(viewer, (kind,)), owner_kind=kind)

    return visible


def _history(kind: EventObjectType) -> Visible:
    """An object's events (dataloaders/events: every event of an object the viewer
    sees, the field sitting on it): a rule of the kind only, not of the viewer."""

    def of_kind(viewer: Viewer) -> Q:
        return Q(object_type=str(kind))

    return of_kind


def _open_leads(viewer: Viewer) -> Q:
    # dataloaders/leads.LeadLoaders._open_by_company: visible and not closed.
    return Q(visible_leads_q(viewer), Q(progress__lt=CLOSED_FROM))


# CustomFieldValue: the definition row with the object's value (`crm_value`) and the
# section name (`crm_section`) beside it (run.py's custom field rows).
_VALUE = "{t}.crm_value"
_KIND_IS = "CASE WHEN {t}.kind = '%s' THEN %s END"

# Lines and taxes in their loader's order (dataloaders/invoices._grouped).
POSITION_ORDER = [SortKey("position"), SortKey("id")]
# A lead's tags as dataloaders/leads sorts them (name, then id).
TAG_ORDER = [SortKey("name"), SortKey("id")]


def _definitions(entity: CustomFieldEntity, listed: bool = False) -> Rows:
    """A contract or lead type's custom field definitions (`customFields`; `listFields`:
    those shown in lists) in services.customfields.fields_for's (position, id) order."""
    where = f"{{t}}.entity = '{entity.value}'" + (" AND {t}.show_in_list" if listed else "")
    return Rows("CustomField", "owner_id", POSITION_ORDER, where)


# TrashEntry.type: the GraphQL enum's names are not the stored values ("Company").
_TRASH_TYPE = (
    "CASE {t}.object_type "
    + " ".join(f"WHEN '{kind.value}' THEN '{kind.name}'" for kind in TrashType)
    + " END"
)

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
            "history": Nested(
                "Change", "object_id", CHANGE_ORDER, _history(EventObjectType.COMPANY)
            ),
            "lastActivity": Column("last_activity_at", DATETIME),
            "parent": Single("Company", "parent_id", _companies),
            "children": Nested("Company", "parent_id", CHILD_ORDER, _companies),
            "contracts": Nested("Contract", "company_id", CONTRACT_ORDER, _contracts),
            # dataloaders/invoices' company_invoices: the invoice rule, newest first.
            "invoices": Nested("Invoice", "company_id", INVOICE_ORDER, _invoices),
            "contacts": Nested("Contact", "company_id", CONTACT_ORDER, None),
            # Every activity of a visible company or contact (the loaders apply no rule).
            "activities": Nested("Activity", "company_id", ACTIVITY_ORDER, None),
            "files": Nested("File", "owner_id", FILE_ORDER, _files(FileOwner.COMPANY)),
            "manager": Single("User", "manager_id", None),
            "viewerCan": Flags(
                {"edit": _company_edit, "manage": _company_manage, "delete": _company_delete}
            ),
            "contractCount": Count(Contract, "company_id", _contracts),
            "role": Single("CompanyRole", "role_id", None),
            "openLeadCount": Count(Lead, "company_id", _open_leads),
            "openLeadEstimatedSales": Sums(
                Lead, "company_id", _open_leads, "estimated_sale_cents", "LeadSum"
            ),
            "customFields": CustomFields(CustomFieldEntity.COMPANY, None, sections=True),
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
            "history": Nested(
                "Change", "object_id", CHANGE_ORDER, _history(EventObjectType.CONTRACT)
            ),
            "status": Column("status", ENUM),
            "company": Single("Company", "company_id", _companies),
            "contractType": Single("ContractType", "contract_type_id", None),
            "owner": Single("User", "owner_id", None),
            "customFields": CustomFields(
                CustomFieldEntity.CONTRACT, "contract_type_id", sections=False
            ),
            "files": Nested("File", "owner_id", FILE_ORDER, _files(FileOwner.CONTRACT)),
            "viewerCan": _COMPANY_ROW_CAN,
            "relatedContracts": Related(
                "Contract", ContractLink, "contract_id", "related_id", _contracts
            ),
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
            "history": Nested(
                "Change", "object_id", CHANGE_ORDER, _history(EventObjectType.INVOICE)
            ),
            "base": Column("base_cents", MONEY),
            "total": Column("total_cents", MONEY),
            "company": Single("Company", "company_id", _companies),
            "lines": Rows("InvoiceLine", "invoice_id", POSITION_ORDER),
            "taxes": Rows("InvoiceTax", "invoice_id", POSITION_ORDER),
            "files": Nested("File", "owner_id", FILE_ORDER, _files(FileOwner.INVOICE)),
            "lockedBy": Single("User", "locked_by_id", None),
            "pdfStatus": Column("pdf_status", ENUM),
            # The resolver's `pdf_error or None`.
            "pdfError": Expr("NULLIF({t}.pdf_error, '')", TEXT),
            "discountPercent": Column("discount_percent", PERCENT),
            "retentionPercent": Column("retention_percent", PERCENT),
            # services.invoicing.compute_totals' amounts, in SQL (compiled/totals.py).
            "discount": Total(DISCOUNT),
            "subtotal": Total(SUBTOTAL),
            "taxTotal": Total(TAX_TOTAL),
            "retention": Total(RETENTION),
            "taxAmounts": Rows("InvoiceTaxAmount", "invoice_id", POSITION_ORDER),
            # The visible contracts it is linked to, in its link rows' order.
            "relatedContracts": Linked(
                "Contract", ContractInvoice, "invoice_id", "contract_id", LINK_ORDER, _contracts
            ),
            "viewerCan": Flags(
                {
                    "edit": editable_invoices_q,
                    "lock": lockable_invoices_q,
                    "unlock": unlockable_invoices_q,
                    "delete": deletable_invoices_q,
                }
            ),
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
            "history": Nested(
                "Change", "object_id", CHANGE_ORDER, _history(EventObjectType.CONTACT)
            ),
            "customFields": CustomFields(CustomFieldEntity.CONTACT, None, sections=False),
            "activities": Nested("Activity", "contact_id", ACTIVITY_ORDER, None),
            "files": Nested("File", "owner_id", FILE_ORDER, _files(FileOwner.CONTACT)),
            "viewerCan": _COMPANY_ROW_CAN,
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
            # The company loader, with the company rule (null when not visible).
            "company": Single("Company", "company_id", _companies),
            # Yourself, or with UM (a refusal is the executor's error: Guarded).
            "permissions": Guarded(SelfOrUserManager, access_rights_q, Bits(of_user=True)),
            "assignments": Guarded(
                SelfOrUserManager,
                access_rights_q,
                Nested("Assignment", "user_id", ASSIGNMENT_ORDER, None),
            ),
        },
    ),
    # A user's assignments, with the profile and group loaders' rows (no rule).
    "Assignment": TypeSpec(
        Assignment,
        {
            "id": Column("id", ID),
            "createdAt": Column("created_at", DATETIME),
            "profile": Single("Profile", "profile_id", None),
            "group": Single("Group", "group_id", None),
        },
    ),
    "Profile": TypeSpec(
        Profile,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
            "version": Column("version", INT),
            "permissions": Bits(of_user=False),
        },
    ),
    "Group": TypeSpec(
        Group,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
        },
    ),
    # leadProgressSteps' rows: a code each, in a table of the statement's own.
    "LeadProgress": TypeSpec(
        Lead,
        {
            "code": Column("progress", INT),
            "name": StepName("progress", PROGRESS_NAMES),
            "closed": AtLeast("progress", CLOSED_FROM),
        },
    ),
    # leadMailTemplates' rows; the company loader with the company rule.
    "CrmTemplate": TypeSpec(
        MailTemplate,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "language": Column("language", TEXT),
            "subject": Column("subject", TEXT),
            "bodyHtml": Column("body_html", TEXT),
            "updatedAt": Column("updated_at", DATETIME),
            "company": Single("Company", "company_id", _companies),
        },
    ),
    "Activity": TypeSpec(
        Activity,
        {
            "id": Column("id", ID),
            "createdAt": Column("created_at", DATETIME),
            "updatedAt": Column("updated_at", DATETIME),
            "text": Column("text", TEXT),
            # The loaders the resolvers use: the company with its rule, the contact
            # and the author by id.
            "company": Single("Company", "company_id", _companies),
            "contact": Single("Contact", "contact_id", None),
            "author": Single("User", "author_id", None),
            # One rule for both, as the resolver's (permissions/activities.py).
            "viewerCan": Flags(
                {"edit": changeable_activities_q, "delete": changeable_activities_q}
            ),
            "viewerCanChange": Flag(changeable_activities_q),
        },
    ),
    "InvoiceLine": TypeSpec(
        InvoiceLine,
        {"concept": Column("concept", TEXT), "amount": Column("amount_cents", MONEY)},
    ),
    "InvoiceTax": TypeSpec(
        InvoiceTax, {"name": Column("name", TEXT), "percent": Column("percent", PERCENT)}
    ),
    # Invoice.taxAmounts: each tax row with its amount on the invoice's subtotal.
    "InvoiceTaxAmount": TypeSpec(
        InvoiceTax,
        {
            "name": Column("name", TEXT),
            "percent": Column("percent", PERCENT),
            "amount": Total(TAX, invoice="invoice_id"),
        },
    ),
    "CompanyRole": TypeSpec(
        CompanyRole,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
        },
    ),
    "ContractType": TypeSpec(
        ContractType,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
            "customFields": _definitions(CustomFieldEntity.CONTRACT),
            "listFields": _definitions(CustomFieldEntity.CONTRACT, listed=True),
        },
    ),
    # `number`: Decimal's text of the stored one (a tiny number with an exponent).
    "CustomFieldValue": TypeSpec(
        CustomField,
        {
            "field": Same("CustomField"),
            "value": Expr(_VALUE, TEXT),
            "sectionName": Expr("{t}.crm_section", TEXT),
            "name": Column("name", TEXT),
            "kind": Column("kind", ENUM),
            # Stored dates are canonical ISO text already (services.customfields.canonical).
            "number": Expr(_KIND_IS % ("NUMERIC", _VALUE), DECIMAL),
            "date": Expr(_KIND_IS % ("DATE", _VALUE), TEXT),
            "checked": Expr(_KIND_IS % ("CHECKBOX", f"COALESCE({_VALUE}, '') = '1'"), BOOL),
        },
    ),
    "CustomField": TypeSpec(
        CustomField,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "position": Column("position", INT),
            "options": Column("options", JSON),
            "required": Column("required", BOOL),
            "showInList": Column("show_in_list", BOOL),
            "ownerId": Column("owner_id", ID),
            "parentId": Column("parent_id", ID),
            "sectionId": Column("section_id", ID),
            "version": Column("version", INT),
            "kind": Column("kind", ENUM),
            "entity": Column("entity", ENUM),
        },
    ),
    # Company.openLeadEstimatedSales' CurrencyAmount rows (run.py's sums).
    "LeadSum": TypeSpec(
        Lead, {"currency": Column("currency", TEXT), "amount": Expr("{t}.crm_cents", MONEY)}
    ),
    "Lead": TypeSpec(
        Lead,
        {
            "id": Column("id", ID),
            "fullName": Column("full_name", TEXT),
            "email": Column("email", TEXT),
            "phone": Column("phone", TEXT),
            "mobile": Column("mobile", TEXT),
            "position": Column("position", TEXT),
            "prospectCompany": Column("prospect_company", TEXT),
            "country": Column("country", TEXT),
            "language": Column("language", TEXT),
            "product": Column("product", TEXT),
            "channel": Column("channel", TEXT),
            "currency": Column("currency", TEXT),
            "closeDate": Column("close_date", DATE),
            "executiveOverview": Column("executive_overview", TEXT),
            "description": Column("description", TEXT),
            "alarmAt": Column("alarm_at", DATETIME),
            "duplicate": Column("duplicate", BOOL),
            "createdAt": Column("created_at", DATETIME),
            "updatedAt": Column("updated_at", DATETIME),
            "version": Column("version", INT),
            "changeHistory": Nested(
                "Change", "object_id", CHANGE_ORDER, _history(EventObjectType.LEAD)
            ),
            "estimatedSale": Column("estimated_sale_cents", MONEY),
            "progress": Progress("progress", PROGRESS_NAMES, CLOSED_FROM),
            "closed": AtLeast("progress", CLOSED_FROM),
            "stale": Stale("progress", "updated_at", CLOSED_FROM),
            # The loaders the resolvers use: users and lead types by id with no rule,
            # the managing company with the company rule (null when not visible).
            "owner": Single("User", "owner_id", None),
            "company": Single("Company", "company_id", _companies),
            "leadType": Single("LeadType", "lead_type_id", None),
            "tags": Tagged("LeadTag", LeadTagLink, "lead_id", "tag_id", TAG_ORDER),
            # A visible lead's history lines and activities (the loaders apply no rule).
            "history": Nested("LeadHistoryEntry", "lead_id", HISTORY_ORDER, None),
            "activities": Nested("LeadActivity", "lead_id", LEAD_ACTIVITY_ORDER, None),
            "files": Nested("File", "owner_id", FILE_ORDER, _files(FileOwner.LEAD)),
            # The fields of the lead's type (none without a type).
            "customFields": CustomFields(CustomFieldEntity.LEAD, "lead_type_id", sections=False),
            "viewerCan": Flags(
                {
                    "edit": editable_leads,
                    "take": takeable_leads,
                    "delete": deletable_leads,
                    "sendMail": mailable_leads,
                }
            ),
        },
    ),
    # The files loader's rows (dataloaders/files.FileLoaders._owned), newest first.
    "File": TypeSpec(
        StoredFile,
        {
            "id": Column("id", ID),
            "originalName": Column("original_name", TEXT),
            "contentType": Column("content_type", TEXT),
            "size": Column("size", INT),
            "sha256": Column("sha256", TEXT),
            "description": Column("description", TEXT),
            "createdAt": Column("created_at", DATETIME),
            "ownerKind": Column("owner_kind", ENUM),
            "ownerId": Column("owner_id", ID),
            "uploader": Single("User", "uploader_id", None),
            "downloadUrl": RootPath(DOWNLOAD_PREFIX),
            "viewerCan": Flags({"delete": deletable_files_q}),
            "viewerCanDelete": Flag(deletable_files_q),
        },
    ),
    # An object's history (record history, issue 16), newest first.
    "Change": TypeSpec(
        Event,
        {
            "createdAt": Column("created_at", DATETIME),
            "changes": Column("changes", JSON),
            "id": Column("id", ID),
            "objectType": Column("object_type", ENUM),
            "objectId": Column("object_id", ID),
            "action": Column("action", ENUM),
            "deleted": Expr(f"({{t}}.action = '{EventAction.DELETE}')", BOOL),
            "actorId": Column("actor_id", ID),
            "actor": Single("User", "actor_id", None),
            "cursor": Encoded("id", encode_change_cursor),
        },
    ),
    "LeadHistoryEntry": TypeSpec(
        LeadHistory,
        {
            "id": Column("id", ID),
            "description": Column("description", TEXT),
            "createdAt": Column("created_at", DATETIME),
            "kind": Column("kind", ENUM),
            "user": Single("User", "user_id", None),
        },
    ),
    "LeadActivity": TypeSpec(
        LeadActivity,
        {
            "id": Column("id", ID),
            "text": Column("text", TEXT),
            "sender": Column("sender", TEXT),
            "subject": Column("subject", TEXT),
            "createdAt": Column("created_at", DATETIME),
            "kind": Column("kind", ENUM),
            "author": Single("User", "author_id", None),
        },
    ),
    "LeadType": TypeSpec(
        LeadType,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
            "customFields": _definitions(CustomFieldEntity.LEAD),
            "listFields": _definitions(CustomFieldEntity.LEAD, listed=True),
        },
    ),
    "LeadTag": TypeSpec(
        LeadTag,
        {"id": Column("id", ID), "name": Column("name", TEXT), "colour": Column("colour", TEXT)},
    ),
    # The viewer's own (the root list reads only those); `filter` as stored.
    "SavedLeadSearch": TypeSpec(
        SavedLeadSearch,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "createdAt": Column("created_at", DATETIME),
            "filter": Column("filter_json", JSON),
        },
    ),
    "CustomFieldSection": TypeSpec(
        CustomFieldSection,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
            "position": Column("position", INT),
        },
    ),
    "ContractTemplate": TypeSpec(
        ContractTemplate,
        {
            "id": Column("id", ID),
            "name": Column("name", TEXT),
            "description": Column("description", TEXT),
            "html": Column("html", TEXT),
            "updatedAt": Column("updated_at", DATETIME),
            "version": Column("version", INT),
        },
    ),
    "PaymentMethod": TypeSpec(
        PaymentMethod,
        {"id": Column("id", ID), "name": Column("name", TEXT), "text": Column("text", TEXT)},
    ),
    # The trash list's entries (resolvers/trash.py); the deleter by the users loader.
    "TrashEntry": TypeSpec(
        TrashEntry,
        {
            "id": Column("id", ID),
            "type": Expr(_TRASH_TYPE, TEXT),
            "objectId": Column("object_id", ID),
            "label": Column("label", TEXT),
            "deletedAt": Column("deleted_at", DATETIME),
            "deletedBy": Single("User", "deleted_by_id", None),
        },
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
