"""Leads, lead types, tags, notes, saved searches and mass operations. Reads filter
through the lead rule in SQL; writes check the object rule (owner or LM) on the loaded
row, then call the service inside one transaction (one per lead for mass operations)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON

from crm_graphql.context import Info
from crm_graphql.errors import ApiError, BadUserInput, FieldError
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead, LeadActivity, LeadTag, SavedLeadSearch
from crm_graphql.models.leads import LeadType as LeadTypeModel
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import own_or_visible_companies, visible_companies_q
from crm_graphql.permissions.leads import (
    LEAD_BITS,
    can_create_lead,
    can_delete_lead,
    can_edit_lead,
    can_take_lead,
    visible_leads_q,
)
from crm_graphql.resolvers.common import (
    connection,
    editable_lead,
    get_or_404,
    input_fields,
    parse_id,
    visible_lead,
)
from crm_graphql.schema.common import Connection, DeletePayload, user_errors
from crm_graphql.schema.filterjson import BadFilter, parse_filter
from crm_graphql.schema.leads import (
    LEAD_FILTER_SPEC,
    LeadActivityInput,
    LeadActivityPayload,
    LeadCreateInput,
    LeadCreatePayload,
    LeadFilter,
    LeadKindType,
    LeadMassPayload,
    LeadObjectType,
    LeadOperationResult,
    LeadOrder,
    LeadPayload,
    LeadProgress,
    LeadTagInput,
    LeadTagPayload,
    LeadTagType,
    LeadTypeInput,
    LeadTypePayload,
    LeadUpdateInput,
    SavedLeadSearchPayload,
    SavedLeadSearchType,
    default_open_q,
    lead_progress,
)
from crm_graphql.services import leads as service
from crm_graphql.services.auth import Viewer
from crm_graphql.services.listing import SortKey
from crm_graphql.services.mutations import atomic
from crm_graphql.services.setup import get_setup

DEFAULT_ORDER = [SortKey("updated_at", descending=True), SortKey("id", descending=True)]
WRITE_BITS = ("LW", "LM")
MAX_MASS = 500
Described = strawberry.argument


def visible_leads(info: Info) -> Any:
    return Lead.filter(visible_leads_q(info.context.require_viewer()))


def filter_from_json(info: Info, value: Any) -> LeadFilter | None:
    """A LeadFilter written as JSON (a saved search), checked by the schema itself."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # integers beyond 64 bits, which no filter holds
        raise FieldError("filter", "INVALID", "Not a valid lead filter.") from None
    try:
        return parse_filter(
            info.schema,
            text,
            "LeadFilter",
            LeadFilter,
            info.context.settings.limits,
        )
    except BadFilter as exc:
        raise FieldError("filter", "INVALID", str(exc)) from None


def _companies(viewer: Viewer) -> Any:
    return Company.filter(visible_companies_q(viewer))


async def _each(
    info: Info, ids: list[strawberry.ID], work: Callable[[Lead], Awaitable[Any]]
) -> LeadMassPayload:
    """Run `work` on each lead in its own transaction: a refused lead undoes nothing else."""
    if len(ids) > MAX_MASS:
        raise BadUserInput(f"At most {MAX_MASS} leads at once.", field="ids")
    results: list[LeadOperationResult] = []
    for lead_id in dict.fromkeys(ids):

        async def one(lead_id: Any = lead_id) -> None:
            await work(await visible_lead(info, lead_id))

        try:
            _, errors = await atomic(one)
        except ApiError as exc:  # the object rule refused this lead (FORBIDDEN)
            errors = [FieldError("id", exc.code, exc.message)]
        results.append(
            LeadOperationResult(lead_id=lead_id, ok=not errors, errors=user_errors(errors))
        )
    done = sum(1 for r in results if r.ok)
    return LeadMassPayload(results=results, succeeded=done, failed=len(results) - done)


@strawberry.type
class LeadsQuery:
    @strawberry.field(
        description="Leads you can see, filtered and sorted, a page at a time (default: "
        "open leads, most recently changed first).",
        extensions=auth(*LEAD_BITS),
    )
    async def leads(
        self,
        info: Info,
        filter: Annotated[LeadFilter | None, Described(description="Conditions.")] = None,
        saved_search_id: Annotated[
            strawberry.ID | None,
            Described(description="Use one of your saved searches as the filter."),
        ] = None,
        order_by: Annotated[
            list[LeadOrder] | None,
            Described(description="Sort keys (default: last change, newest first)."),
        ] = None,
        first: Annotated[
            int | None, Described(description="Page size (default 20, at most 100).")
        ] = None,
        after: Annotated[
            str | None, Described(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[LeadObjectType]:
        if saved_search_id is not None:
            viewer = info.context.require_viewer()
            saved = await SavedLeadSearch.filter(
                user_id=viewer.user.id, id=parse_id(saved_search_id)
            ).first()
            if saved is None:
                raise BadUserInput("No such saved search.", field="savedSearchId")
            try:
                filter = filter_from_json(info, saved.filter_json)
            except FieldError as exc:
                raise BadUserInput(exc.message, field="savedSearchId") from None
        return await connection(
            info,
            visible_leads(info).filter(default_open_q(filter)),
            flt=filter,
            spec=LEAD_FILTER_SPEC,
            order_by=order_by,
            default_order=DEFAULT_ORDER,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="One lead you can see (NOT_FOUND otherwise).", extensions=auth(*LEAD_BITS)
    )
    async def lead(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> LeadObjectType:
        return await get_or_404(Lead, visible_leads(info), id)

    @strawberry.field(
        description="Every lead type, by name.",
        extensions=auth(*LEAD_BITS),
        graphql_type=list[LeadKindType],
    )
    async def lead_types(self, info: Info) -> list[LeadTypeModel]:
        return await LeadTypeModel.all().order_by("name", "id")

    @strawberry.field(
        description="Every lead tag, by name.",
        extensions=auth(*LEAD_BITS),
        graphql_type=list[LeadTagType],
    )
    async def lead_tags(self, info: Info) -> list[LeadTag]:
        return await LeadTag.all().order_by("name", "id")

    @strawberry.field(
        description="The progress steps in code order, with CRM setup's names.",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_progress_steps(self, info: Info) -> list[LeadProgress]:
        setup = await info.context.loaders.leads.setup()
        return [lead_progress(setup, code) for code in service.progress_names(setup)]

    @strawberry.field(description="The lead channels of CRM setup.", extensions=auth(*LEAD_BITS))
    async def lead_channels(self, info: Info) -> list[str]:
        return service.channels(await info.context.loaders.leads.setup())

    @strawberry.field(
        description="Your saved lead searches, by name.",
        extensions=auth(*LEAD_BITS),
        graphql_type=list[SavedLeadSearchType],
    )
    async def lead_saved_searches(self, info: Info) -> list[SavedLeadSearch]:
        viewer = info.context.require_viewer()
        return await SavedLeadSearch.filter(user_id=viewer.user.id).order_by("name", "id")


@strawberry.type
class LeadsMutation:
    @strawberry.mutation(
        description="Create a lead (LW or LM). With a web-form token (scope LEADS_CREATE) "
        "the lead is unowned and unmanaged (the pool every lead user sees), its channel "
        "defaults to the first of CRM setup (web form), and the payload carries only its id. "
        "A lead whose e-mail another lead has is flagged as a duplicate, or refused with "
        "`refuseDuplicates`. A web-form token never learns whether an e-mail is known: "
        "its `duplicate` is always false and it cannot use `refuseDuplicates`.",
        extensions=auth(*WRITE_BITS, scopes=(TokenScope.FULL, TokenScope.LEADS_CREATE)),
    )
    async def lead_create(
        self,
        info: Info,
        input: Annotated[LeadCreateInput, Described(description="The values.")],
        refuse_duplicates: Annotated[
            bool, Described(description="Refuse (DUPLICATE) instead of flagging.")
        ] = False,
    ) -> LeadCreatePayload:
        viewer = info.context.require_viewer(TokenScope.LEADS_CREATE)
        web_form = viewer.scope == TokenScope.LEADS_CREATE
        data = input_fields(input)
        if data.get("currency") is None:
            data.pop("currency", None)

        async def work() -> Lead:
            if not can_create_lead(viewer):
                raise info.context.deny("leadCreate", "needs LW")
            setup = await get_setup()
            if web_form:
                if refuse_duplicates:
                    # Refused for every e-mail alike: the answer must not tell known ones.
                    raise FieldError(
                        "refuseDuplicates",
                        "FORBIDDEN",
                        "A web-form token cannot refuse duplicates: they are flagged for review.",
                    )
                for key, field in (("owner_id", "ownerId"), ("company_id", "companyId")):
                    if data.pop(key, None) is not None:
                        raise FieldError(field, "FORBIDDEN", "A web-form token cannot set this.")
                if not (data.get("email") or "").strip():
                    raise FieldError("email", "REQUIRED", "A web-form lead needs an e-mail.")
                data["owner_id"] = None
                data["company_id"] = None
                if not data.get("channel"):
                    data["channel"] = service.channels(setup)[0]
            else:
                data.setdefault("owner_id", viewer.user.id)
                data.setdefault("company_id", viewer.user.company_id)
            return await service.create_lead(
                viewer,
                data,
                setup,
                visible_companies=own_or_visible_companies(viewer),
                refuse_duplicates=refuse_duplicates,
                request_id=info.context.request_id,
            )

        lead, errors = await atomic(work)
        return LeadCreatePayload(
            lead=None if web_form else lead,
            lead_id=None if lead is None else strawberry.ID(str(lead.id)),
            duplicate=bool(lead and lead.duplicate and not web_form),
            errors=user_errors(errors),
        )

    @strawberry.mutation(
        description="Change a lead you own (LW) or any lead you can see (LM). Progress, "
        "estimated sale, close date and owner changes each write a history line.",
        extensions=auth(*WRITE_BITS),
    )
    async def lead_update(
        self, info: Info, input: Annotated[LeadUpdateInput, Described(description="Changes.")]
    ) -> LeadPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> Lead:
            lead = await editable_lead(info, data.pop("id"))
            return await service.update_lead(
                viewer,
                lead,
                data,
                await get_setup(),
                visible_companies=_companies(viewer),
                request_id=info.context.request_id,
            )

        lead, errors = await atomic(work)
        return LeadPayload(lead=lead, errors=user_errors(errors))

    @strawberry.mutation(
        description="Take an unowned lead you can see (LW): you become its owner and your "
        "company its managing company.",
        extensions=auth(*WRITE_BITS),
    )
    async def lead_take(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The lead.")]
    ) -> LeadPayload:
        viewer = info.context.require_viewer()

        async def work() -> Lead:
            lead = await visible_lead(info, id)
            if lead.owner_id is not None:
                raise FieldError("id", "CONFLICT", "The lead already has an owner.")
            if not can_take_lead(viewer, lead):
                raise info.context.deny(f"Lead {lead.id}", "needs LW")
            return await service.take_lead(viewer, lead, info.context.request_id)

        lead, errors = await atomic(work)
        return LeadPayload(lead=lead, errors=user_errors(errors))

    @strawberry.mutation(
        description="Close a lead you can edit with a closed progress code (100 no response "
        "or dead, 101 lost, 102 invalid, 200 won; default 100).",
        extensions=auth(*WRITE_BITS),
    )
    async def lead_close(
        self,
        info: Info,
        id: Annotated[strawberry.ID, Described(description="The lead.")],
        progress: Annotated[int, Described(description="The closed code.")] = 100,
    ) -> LeadPayload:
        viewer = info.context.require_viewer()

        async def work() -> Lead:
            lead = await editable_lead(info, id)
            return await service.close_lead(
                viewer, lead, progress, await get_setup(), info.context.request_id
            )

        lead, errors = await atomic(work)
        return LeadPayload(lead=lead, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a lead with its history, notes, files and custom values (LM).",
        extensions=auth("LM"),
    )
    async def lead_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The lead.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            lead = await visible_lead(info, id)
            if not can_delete_lead(viewer, lead):
                raise info.context.deny(f"Lead {lead.id}", "needs LM")
            await service.delete_lead(viewer, lead, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Write a note on a lead you can edit.", extensions=auth(*WRITE_BITS)
    )
    async def lead_activity_create(
        self, info: Info, input: Annotated[LeadActivityInput, Described(description="The note.")]
    ) -> LeadActivityPayload:
        viewer = info.context.require_viewer()

        async def work() -> LeadActivity:
            lead = await editable_lead(info, input.lead_id, "leadId")
            return await service.add_activity(
                lead, viewer.user, input.text, request_id=info.context.request_id
            )

        activity, errors = await atomic(work)
        return LeadActivityPayload(activity=activity, errors=user_errors(errors))

    # ------------------------------------------------------------ mass operations

    @strawberry.mutation(
        description="Give each lead to an owner; each lead checked and done on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_assign_owner(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        owner_id: Annotated[strawberry.ID, Described(description="The new owner.")],
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        setup = await get_setup()

        async def work(lead: Lead) -> None:
            _check_edit(info, viewer, lead)
            await service.assign_owner(viewer, lead, owner_id, setup, info.context.request_id)

        return await _each(info, ids, work)

    @strawberry.mutation(
        description="Set each lead's progress; each lead checked and done on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_set_progress(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        progress: Annotated[int, Described(description="The progress code.")],
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        setup = await get_setup()

        async def work(lead: Lead) -> None:
            _check_edit(info, viewer, lead)
            await service.set_progress(viewer, lead, progress, setup, info.context.request_id)

        return await _each(info, ids, work)

    @strawberry.mutation(
        description="Add and remove tags on each lead; each lead checked and done on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_change_tags(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        add: Annotated[list[strawberry.ID] | None, Described(description="Tags to add.")] = None,
        remove: Annotated[
            list[strawberry.ID] | None, Described(description="Tags to remove.")
        ] = None,
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        add_ids = await service.tag_ids(add, "add")
        remove_ids = await service.tag_ids(remove, "remove")

        async def work(lead: Lead) -> None:
            _check_edit(info, viewer, lead)
            await service.change_tags(viewer, lead, add_ids, remove_ids, info.context.request_id)

        return await _each(info, ids, work)

    @strawberry.mutation(
        description="Close each lead with a closed code; each lead checked on its own.",
        extensions=auth(*WRITE_BITS),
    )
    async def leads_close(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
        progress: Annotated[int, Described(description="The closed code.")] = 100,
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()
        setup = await get_setup()

        async def work(lead: Lead) -> None:
            _check_edit(info, viewer, lead)
            await service.close_lead(viewer, lead, progress, setup, info.context.request_id)

        return await _each(info, ids, work)

    @strawberry.mutation(
        description="Delete each lead (LM); each lead checked and done on its own.",
        extensions=auth("LM"),
    )
    async def leads_delete(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], Described(description="The leads (at most 500).")],
    ) -> LeadMassPayload:
        viewer = info.context.require_viewer()

        async def work(lead: Lead) -> None:
            if not can_delete_lead(viewer, lead):
                raise info.context.deny(f"Lead {lead.id}", "needs LM")
            await service.delete_lead(viewer, lead, info.context.request_id)

        return await _each(info, ids, work)

    # ------------------------------------------------------------ types, tags, searches

    @strawberry.mutation(description="Create a lead type (LM).", extensions=auth("LM"))
    async def lead_type_create(
        self, info: Info, input: Annotated[LeadTypeInput, Described(description="Values.")]
    ) -> LeadTypePayload:
        viewer = info.context.require_viewer()
        kind, errors = await atomic(
            lambda: service.save_type(viewer, None, input_fields(input), info.context.request_id)
        )
        return LeadTypePayload(lead_type=kind, errors=user_errors(errors))

    @strawberry.mutation(description="Rename or describe a lead type (LM).", extensions=auth("LM"))
    async def lead_type_update(
        self,
        info: Info,
        id: Annotated[strawberry.ID, Described(description="The lead type.")],
        input: Annotated[LeadTypeInput, Described(description="New values.")],
    ) -> LeadTypePayload:
        viewer = info.context.require_viewer()

        async def work() -> LeadTypeModel:
            kind = await _get(LeadTypeModel, id, "No such lead type.")
            return await service.save_type(
                viewer, kind, input_fields(input), info.context.request_id
            )

        kind, errors = await atomic(work)
        return LeadTypePayload(lead_type=kind, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a lead type and its custom fields; refused while leads use it (LM).",
        extensions=auth("LM"),
    )
    async def lead_type_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The type.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            kind = await _get(LeadTypeModel, id, "No such lead type.")
            await service.delete_type(viewer, kind, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(description="Create a lead tag (LM).", extensions=auth("LM"))
    async def lead_tag_create(
        self, info: Info, input: Annotated[LeadTagInput, Described(description="Values.")]
    ) -> LeadTagPayload:
        viewer = info.context.require_viewer()
        tag, errors = await atomic(
            lambda: service.save_tag(viewer, None, input_fields(input), info.context.request_id)
        )
        return LeadTagPayload(tag=tag, errors=user_errors(errors))

    @strawberry.mutation(description="Rename or recolour a lead tag (LM).", extensions=auth("LM"))
    async def lead_tag_update(
        self,
        info: Info,
        id: Annotated[strawberry.ID, Described(description="The tag.")],
        input: Annotated[LeadTagInput, Described(description="New values.")],
    ) -> LeadTagPayload:
        viewer = info.context.require_viewer()

        async def work() -> LeadTag:
            tag = await _get(LeadTag, id, "No such tag.")
            return await service.save_tag(viewer, tag, input_fields(input), info.context.request_id)

        tag, errors = await atomic(work)
        return LeadTagPayload(tag=tag, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a lead tag; leads lose it (LM).", extensions=auth("LM")
    )
    async def lead_tag_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The tag.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            await service.delete_tag(
                viewer, await _get(LeadTag, id, "No such tag."), info.context.request_id
            )

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Save a lead filter under a name (saving an existing name replaces it).",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_search_save(
        self,
        info: Info,
        name: Annotated[str, Described(description="Its name.")],
        filter: Annotated[JSON, Described(description="A LeadFilter, as JSON.")],
    ) -> SavedLeadSearchPayload:
        viewer = info.context.require_viewer()

        async def work() -> SavedLeadSearch:
            filter_from_json(info, filter)  # refused unless `leads` would accept it
            return await service.save_search(viewer.user, name, filter)

        saved, errors = await atomic(work)
        return SavedLeadSearchPayload(saved_search=saved, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete one of your saved searches.", extensions=auth(*LEAD_BITS)
    )
    async def lead_search_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The search.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            found = await SavedLeadSearch.filter(
                user_id=viewer.user.id, id=service.parse_ref(id, "id")
            ).first()
            if found is None:
                raise FieldError("id", "NOT_FOUND", "No such saved search.")
            await found.delete()

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))


def _check_edit(info: Info, viewer: Viewer, lead: Lead) -> None:
    if not can_edit_lead(viewer, lead):
        raise info.context.deny(f"Lead {lead.id}", "not its owner")


async def _get(model: Any, value: Any, message: str) -> Any:
    found = await model.filter(id=service.parse_ref(value, "id")).first()
    if found is None:
        raise FieldError("id", "NOT_FOUND", message)
    return found
