"""The root fields the compiler covers: connections (`ROOTS`), single objects by id
(`SINGLES`) and plain lists of small tables (`LISTS`), with the same visibility, default
filters, filter specs and orders as their resolvers (crm_graphql/resolvers/), taken from
the modules those resolvers use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm_graphql.compiled.sql import Unsupported
from crm_graphql.ids import id_number
from crm_graphql.models.companies import Company, CompanyRole
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractType
from crm_graphql.models.customfields import CustomField, CustomFieldSection
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import (
    DEFAULT_CHANNELS,
    PROGRESS_NAMES,
    Lead,
    LeadTag,
    LeadType,
    SavedLeadSearch,
)
from crm_graphql.models.mail import MailTemplate
from crm_graphql.models.setup import PaymentMethod
from crm_graphql.models.templates import ContractTemplate
from crm_graphql.models.trash import TrashEntry, TrashType
from crm_graphql.permissions.companies import (
    NOTHING,
    belongs_to_visible_company_q,
    visible_companies_q,
)
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.invoices import (
    can_see_invoice_sums,
    invoice_sums_used,
    visible_invoices_q,
)
from crm_graphql.permissions.lead_mail import visible_templates_q
from crm_graphql.permissions.leads import visible_leads_q
from crm_graphql.permissions.merges import entity_bit, visible_q
from crm_graphql.permissions.trash import visible_trash_q
from crm_graphql.schema.common import model_enum
from crm_graphql.schema.companies import COMPANY_DEFAULT_ORDER, COMPANY_FILTER_SPEC
from crm_graphql.schema.contacts import CONTACT_DEFAULT_ORDER, CONTACT_FILTER_SPEC
from crm_graphql.schema.contracts import (
    CONTRACT_DEFAULT_ORDER,
    CONTRACT_FILTER_SPEC,
    default_status_q,
)
from crm_graphql.schema.customfields import entity_of
from crm_graphql.schema.invoice_filters import INVOICE_DEFAULT_ORDER, INVOICE_FILTER_SPEC
from crm_graphql.schema.lead_statistics import PIPELINE_ORDERS
from crm_graphql.schema.leads import LEAD_DEFAULT_ORDER, LEAD_FILTER_SPEC, default_open_q
from crm_graphql.schema.leads.searches import saved_search_filter
from crm_graphql.schema.trash import TRASH_DEFAULT_ORDER
from crm_graphql.services.auth import Viewer
from crm_graphql.services.billing import with_billing_key
from crm_graphql.services.duplicates import DuplicateEntity
from crm_graphql.services.lead_statistics import pipeline_steps
from crm_graphql.services.listing import FilterSpec, SortKey
from crm_graphql.settings import Limits


@dataclass(frozen=True)
class ReadFirst:
    """An argument that makes the resolver read the database before its page (leads'
    `savedSearchId`): `read(schema, limits, viewer, arguments)` is the arguments the
    page is built from, read at every request (a statement of its own, never reused);
    whatever it raises is the resolver's error, which the executor then gives."""

    argument: str
    read: Callable[[Any, Limits, Viewer, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class RootSpec:
    """A root connection: `base(viewer, arguments)` is the visible rows before the
    client's filter (what the resolver hands `resolvers.common.connection`), with the
    computed sort columns its order needs (annotations); ListError for bad input."""

    type_name: str
    base: Callable[[Viewer, dict[str, Any]], QuerySet[Any]]
    filter_spec: FilterSpec
    default_order: Sequence[SortKey]
    read_first: ReadFirst | None = None


def _companies(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    # Billing in a filter or order: the resolver's denial without IR (the executor
    # answers it), its computed sort column with it (a bad currency: ListError).
    queryset = Company.filter(visible_companies_q(viewer))
    if invoice_sums_used(args.get("filter"), args.get("order_by")):
        if not can_see_invoice_sums(viewer):
            raise Unsupported("billing without IR")
        return with_billing_key(queryset, args.get("order_by"))
    return queryset


def _contacts(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Contact.filter(belongs_to_visible_company_q(viewer))


def _contracts(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Contract.filter(visible_contracts_q(viewer)).filter(default_status_q(args.get("filter")))


def _invoices(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Invoice.filter(visible_invoices_q(viewer))


async def _saved_search(
    schema: Any, limits: Limits, viewer: Viewer, args: dict[str, Any]
) -> dict[str, Any]:
    # The resolver's: the viewer's saved search, its filter in place of `filter`.
    if args.get("saved_search_id") is None:
        return args
    found = await saved_search_filter(schema, limits, viewer, args["saved_search_id"])
    return {**args, "filter": found}


def _leads(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    return Lead.filter(visible_leads_q(viewer)).filter(default_open_q(args.get("filter")))


def _trash(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    # The resolver's: the entries the viewer could delete, of the kinds asked for.
    queryset = TrashEntry.filter(visible_trash_q(viewer))
    if args.get("types") is not None:
        queryset = queryset.filter(
            object_type__in=[model_enum(TrashType, t) for t in args["types"]]
        )
    return queryset


ROOTS: dict[str, RootSpec] = {
    "companies": RootSpec("Company", _companies, COMPANY_FILTER_SPEC, COMPANY_DEFAULT_ORDER),
    "contacts": RootSpec("Contact", _contacts, CONTACT_FILTER_SPEC, CONTACT_DEFAULT_ORDER),
    "contracts": RootSpec("Contract", _contracts, CONTRACT_FILTER_SPEC, CONTRACT_DEFAULT_ORDER),
    "invoices": RootSpec("Invoice", _invoices, INVOICE_FILTER_SPEC, INVOICE_DEFAULT_ORDER),
    "leads": RootSpec(
        "Lead",
        _leads,
        LEAD_FILTER_SPEC,
        LEAD_DEFAULT_ORDER,
        ReadFirst("savedSearchId", _saved_search),
    ),
    # No filter argument: an empty filter spec.
    "trash": RootSpec("TrashEntry", _trash, {}, TRASH_DEFAULT_ORDER),
}


@dataclass(frozen=True)
class SingleSpec:
    """A root field that reads one object by id: `visible(viewer)` is the rule of the
    queryset its resolver hands `get_or_404` (an invisible or unknown id is its NOT_FOUND
    error, which the executor produces: the compiled path answers only when the row is
    found)."""

    type_name: str
    visible: Callable[[Viewer], QuerySet[Any]]


# One row: its rule is read through the row's company (a join, see
# `company_columns_via`), not by building the set of every visible company.
SINGLES: dict[str, SingleSpec] = {
    "company": SingleSpec("Company", lambda viewer: Company.filter(visible_companies_q(viewer))),
    "contact": SingleSpec(
        "Contact",
        lambda viewer: Contact.filter(belongs_to_visible_company_q(viewer, via="company")),
    ),
    "contract": SingleSpec(
        "Contract", lambda viewer: Contract.filter(visible_contracts_q(viewer, via="company"))
    ),
    "invoice": SingleSpec(
        "Invoice", lambda viewer: Invoice.filter(visible_invoices_q(viewer, via="company"))
    ),
    "lead": SingleSpec("Lead", lambda viewer: Lead.filter(visible_leads_q(viewer))),
    "contractTemplate": SingleSpec("ContractTemplate", lambda viewer: ContractTemplate.all()),
}


@dataclass(frozen=True)
class ListSpec:
    """A root field that lists a small table's rows (`contractTypes`, `leadTags`...):
    `rows(viewer, arguments)` is its resolver's queryset, in `order` (the resolver's
    `order_by`, or the model's own ordering where it gives none)."""

    type_name: str
    rows: Callable[[Viewer, dict[str, Any]], QuerySet[Any]]
    order: Sequence[SortKey]


def _custom_fields(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    # The resolver's fields_for(entity, owner); a bad ownerId is its error.
    owner = args.get("owner_id")
    number = id_number(owner) if owner is not None else None
    if owner is not None and number is None:
        raise Unsupported("ownerId")
    return CustomField.filter(entity=entity_of(args["entity"]), owner_id=number)


BY_NAME = [SortKey("name"), SortKey("id")]


def _lead_mail_templates(viewer: Viewer, args: dict[str, Any]) -> QuerySet[Any]:
    # The resolver's: the viewer's templates in the visible lead's language and those
    # without one; no such lead (malformed, unknown or invisible id) is its empty list.
    number = id_number(args["lead_id"])
    visible = MailTemplate.filter(visible_templates_q(viewer))
    if number is None:
        return visible.filter(NOTHING)
    lead = Lead.filter(visible_leads_q(viewer), id=number)
    language = Subquery(lead.values("language"))
    blank = Subquery(lead.annotate(crm_blank=RawSQL("''")).values("crm_blank"))
    return visible.filter(Q(language__in=language) | Q(language__in=blank))


def _every(model: type[Model]) -> Callable[[Viewer, dict[str, Any]], QuerySet[Any]]:
    return lambda viewer, args: model.all()


LISTS: dict[str, ListSpec] = {
    # order_by("name") alone: names are unique.
    "companyRoles": ListSpec("CompanyRole", _every(CompanyRole), [SortKey("name")]),
    "contractTypes": ListSpec("ContractType", _every(ContractType), BY_NAME),
    "contractTemplates": ListSpec("ContractTemplate", _every(ContractTemplate), BY_NAME),
    "paymentMethods": ListSpec("PaymentMethod", _every(PaymentMethod), BY_NAME),
    "leadTypes": ListSpec("LeadType", _every(LeadType), BY_NAME),
    "leadTags": ListSpec("LeadTag", _every(LeadTag), BY_NAME),
    "leadSavedSearches": ListSpec(
        "SavedLeadSearch",
        lambda viewer, args: SavedLeadSearch.filter(user_id=viewer.user.id),
        BY_NAME,
    ),
    "customFields": ListSpec("CustomField", _custom_fields, [SortKey("position"), SortKey("id")]),
    "leadMailTemplates": ListSpec("CrmTemplate", _lead_mail_templates, BY_NAME),
    # `.all()`: the model's ordering.
    "customFieldSections": ListSpec(
        "CustomFieldSection", _every(CustomFieldSection), [SortKey("position"), SortKey("id")]
    ),
}


@dataclass(frozen=True)
class StepsSpec:
    """A root list of objects with no table of their own (`leadProgressSteps`): a row
    per value of `values` in that order, the value in the column `column` of the type's
    model (`Lead.progress`), the rest read by the statement (CRM setup's names)."""

    type_name: str
    column: str
    values: Sequence[int]


@dataclass(frozen=True)
class SetupListSpec:
    """A root list of text from CRM setup's row (`leadChannels`): its JSON list column
    `column`, or `default` when the list is empty or there is no row yet
    (services.leads.channels)."""

    column: str
    default: Sequence[str]


# The resolvers read CRM setup (services.leads.progress_names, channels); the statement
# reads the same row, its model defaults while there is none.
VALUES: dict[str, StepsSpec | SetupListSpec] = {
    "leadProgressSteps": StepsSpec("LeadProgress", "progress", tuple(PROGRESS_NAMES)),
    "leadChannels": SetupListSpec("lead_channels", tuple(DEFAULT_CHANNELS)),
}


@dataclass(frozen=True)
class PipelineSpec:
    """A root field of progress steps (`leadPipeline`): `base(viewer)` is the visible
    leads before the client's filter (the resolver's `filtered_leads`, every status),
    `orders` the steps' lead orders by the `orderBy` value, `steps(includeClosed)` the
    step codes shown (services.lead_statistics.pipeline_steps)."""

    base: Callable[[Viewer], QuerySet[Any]]
    filter_spec: FilterSpec
    orders: dict[Any, list[SortKey]]
    steps: Callable[[bool], tuple[int, ...]]


PIPELINES: dict[str, PipelineSpec] = {
    "leadPipeline": PipelineSpec(
        lambda viewer: Lead.filter(visible_leads_q(viewer)),
        LEAD_FILTER_SPEC,
        dict(PIPELINE_ORDERS),
        pipeline_steps,
    ),
}


@dataclass(frozen=True)
class MatchSpec:
    """A root field of the records that may duplicate one (`duplicates`): `visible` is
    the rule of the entity's records (the resolver's `visible_q`), `bit` the view bit
    the resolver asks for (`entity_bit`; without it: its FORBIDDEN, the executor's)."""

    visible: Callable[[Viewer, DuplicateEntity], Q]
    bit: Callable[[DuplicateEntity], str]


MATCHES: dict[str, MatchSpec] = {"duplicates": MatchSpec(visible_q, entity_bit)}
