"""Creating and changing leads: the object rule (owner or LM) is checked on the loaded row,
then the service runs inside one transaction."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import own_or_visible_companies, visible_companies_q
from crm_graphql.permissions.leads import can_create_lead
from crm_graphql.resolvers.common import editable_lead, input_fields
from crm_graphql.resolvers.leads.shared import WRITE_BITS
from crm_graphql.schema.common import user_errors
from crm_graphql.schema.leads import (
    LeadCreateInput,
    LeadCreatePayload,
    LeadPayload,
    LeadUpdateInput,
)
from crm_graphql.services import leads as service
from crm_graphql.services.auth import Viewer
from crm_graphql.services.mutations import atomic
from crm_graphql.services.setup import get_setup

Described = strawberry.argument


def _companies(viewer: Viewer) -> Any:
    return Company.filter(visible_companies_q(viewer))


@strawberry.type
class LeadRecordsMutation:
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
                        ErrorCode.FORBIDDEN,
                        "A web-form token cannot refuse duplicates: they are flagged for review.",
                    )
                for key, field in (("owner_id", "ownerId"), ("company_id", "companyId")):
                    if data.pop(key, None) is not None:
                        raise FieldError(
                            field, ErrorCode.FORBIDDEN, "A web-form token cannot set this."
                        )
                if not (data.get("email") or "").strip():
                    raise FieldError(
                        "email", ErrorCode.REQUIRED, "A web-form lead needs an e-mail."
                    )
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
