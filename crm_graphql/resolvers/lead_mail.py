"""Lead e-mail: CRM templates (CM; seen by their company's users), replies and forwards
from a lead (its owner, LM or superadmins), the outbox and the mailbox status."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from tortoise.functions import Count

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput, ErrorCode, FieldError
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead
from crm_graphql.models.mail import MailboxState, MailTemplate, OutgoingMail, OutgoingState
from crm_graphql.models.users import User
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.companies import own_or_visible_companies
from crm_graphql.permissions.lead_mail import (
    manageable_templates_q,
    visible_outgoing_q,
    visible_templates_q,
)
from crm_graphql.permissions.leads import LEAD_BITS, can_mail_from_lead
from crm_graphql.resolvers.common import close_upload, connection, input_fields, visible_lead
from crm_graphql.schema.common import Connection, DeletePayload, user_errors
from crm_graphql.schema.lead_mail import (
    CrmTemplateCreateInput,
    CrmTemplatePayload,
    CrmTemplateType,
    CrmTemplateUpdateInput,
    LeadMailPayload,
    LeadSendEmailInput,
    MailStatus,
    OutgoingMailState,
    OutgoingMailType,
)
from crm_graphql.services import crm_templates as templates
from crm_graphql.services import lead_mail, outbox
from crm_graphql.services.contracts import parse_ref
from crm_graphql.services.listing import SortKey
from crm_graphql.services.mutations import atomic
from crm_graphql.services.orm import max_length
from crm_graphql.services.setup import get_setup

Described = strawberry.argument
NEWEST = [SortKey("id", descending=True)]


def _templates(info: Info) -> Any:
    return MailTemplate.filter(visible_templates_q(info.context.require_viewer()))


async def _template(info: Info, template_id: Any, field: str = "id") -> MailTemplate:
    found = await _templates(info).filter(id=parse_ref(template_id, field)).first()
    if found is None:
        raise FieldError(field, ErrorCode.NOT_FOUND, "No such template.")
    return found


async def _manageable_template(info: Info, template_id: Any) -> MailTemplate:
    """A template the viewer may change: hidden is NOT_FOUND, seen but not managed FORBIDDEN."""
    found = await _template(info, template_id)
    viewer = info.context.require_viewer()
    if not await MailTemplate.filter(manageable_templates_q(viewer), id=found.id).exists():
        raise info.context.deny(f"CrmTemplate {found.id}", "not its manager")
    return found


async def _mailable_lead(info: Info, lead_id: Any) -> Lead:
    lead = await visible_lead(info, lead_id, "leadId")
    if not can_mail_from_lead(info.context.require_viewer(), lead):
        raise info.context.deny(f"Lead {lead.id}", "not its owner")
    return lead


@strawberry.type
class LeadMailQuery:
    @strawberry.field(
        description="CRM templates of your company, by name (optionally in one language).",
        extensions=auth("CR", *LEAD_BITS),
    )
    async def crm_templates(
        self,
        info: Info,
        language: Annotated[str | None, Described(description="Only this language.")] = None,
    ) -> list[CrmTemplateType]:
        found = _templates(info)
        if language is not None:
            # Longer than the column: Tortoise would refuse it as an internal error.
            limit = max_length(MailTemplate, "language")
            if len(language) > limit:
                raise BadUserInput(f"`language` is longer than {limit} characters.")
            found = found.filter(language=language)
        return await found.order_by("name", "id")

    @strawberry.field(
        description="The CRM templates offered for a lead: yours, in the lead's language "
        "(and those without a language).",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_mail_templates(
        self, info: Info, lead_id: Annotated[strawberry.ID, Described(description="The lead.")]
    ) -> list[CrmTemplateType]:
        try:
            lead = await visible_lead(info, lead_id, "leadId")
        except FieldError:
            return []
        return (
            await _templates(info).filter(language__in=[lead.language, ""]).order_by("name", "id")
        )

    @strawberry.field(
        description="Outgoing messages, newest first: your own (FM and superadmins: all).",
        extensions=auth(*LEAD_BITS, "FM"),
    )
    async def outgoing_mails(
        self,
        info: Info,
        state: Annotated[
            OutgoingMailState | None, Described(description="Only this state.")
        ] = None,
        lead_id: Annotated[strawberry.ID | None, Described(description="Only this lead's.")] = None,
        first: Annotated[int | None, Described(description="Page size (default 20).")] = None,
        after: Annotated[str | None, Described(description="Cursor of the row before.")] = None,
    ) -> Connection[OutgoingMailType]:
        found = OutgoingMail.filter(visible_outgoing_q(info.context.require_viewer()))
        if state is not None:
            found = found.filter(state=state.value)
        if lead_id is not None:
            found = found.filter(lead_id=parse_ref(lead_id, "leadId"))
        return await connection(info, found, default_order=NEWEST, first=first, after=after)

    @strawberry.field(
        description="The reference mailbox poller and the outbox (FM or superadmin).",
        extensions=auth("FM"),
    )
    async def mail_status(self, info: Info) -> MailStatus:
        setup = await get_setup()
        state = await MailboxState.filter(id=1).first()
        counts = dict(
            await OutgoingMail.annotate(n=Count("id")).group_by("state").values_list("state", "n")
        )
        return MailStatus(
            imap_configured=bool(setup.imap_host and setup.imap_username),
            smtp_configured=bool(setup.smtp_host),
            last_poll_at=state.last_poll_at if state else None,
            last_success_at=state.last_success_at if state else None,
            last_error=state.last_error if state else "",
            filed_total=state.filed_total if state else 0,
            queued=int(counts.get(OutgoingState.QUEUED, 0)),
            failed=int(counts.get(OutgoingState.FAILED, 0)),
        )


@strawberry.type
class LeadMailMutation:
    @strawberry.mutation(
        description="Reply to a lead's prospect by e-mail (the lead's owner, LM or a "
        "superadmin): From your address, To the lead, CC your copies and the reference "
        "mailbox, `[Lead#<id>]` in the subject. The message is queued (see outgoingMails) "
        "and recorded as a lead activity and history line. Attachments come as a GraphQL "
        "multipart request and are kept as lead files.",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_send_email(
        self, info: Info, input: Annotated[LeadSendEmailInput, Described(description="The mail.")]
    ) -> LeadMailPayload:
        viewer = info.context.require_viewer()
        uploads = list(input.attachments or [])

        async def work() -> tuple[Lead, OutgoingMail]:
            lead = await _mailable_lead(info, input.lead_id)
            template = None
            if input.template_id is not None:
                template = await _template(info, input.template_id, "templateId")
            for upload in uploads:
                if not (hasattr(upload, "filename") and hasattr(upload, "read")):
                    raise FieldError(
                        "attachments", ErrorCode.INVALID, "Send files as multipart parts."
                    )
            composed = await lead_mail.send_reply(
                viewer,
                lead,
                await get_setup(),
                subject=input.subject,
                body_html=input.body_html,
                template=template,
                copies=list(input.cc or []),
                uploads=uploads,
                config=info.context.settings,
                request_id=info.context.request_id,
            )
            return lead, composed.mail

        try:
            result, errors = await atomic(work)
        finally:
            for upload in uploads:
                await close_upload(upload)
        if result is None:
            return LeadMailPayload(outgoing_mail=None, lead=None, errors=user_errors(errors))
        outbox.wake.set()
        return LeadMailPayload(outgoing_mail=result[1], lead=result[0], errors=[])

    @strawberry.mutation(
        description="Forward a lead's details, with a comment, to any addresses (the lead's "
        "owner, LM or a superadmin); recorded as activity and history.",
        extensions=auth(*LEAD_BITS),
    )
    async def lead_forward(
        self,
        info: Info,
        lead_id: Annotated[strawberry.ID, Described(description="The lead.")],
        to: Annotated[list[str], Described(description="The addresses.")],
        comment: Annotated[str, Described(description="A note above the details.")] = "",
    ) -> LeadMailPayload:
        viewer = info.context.require_viewer()

        async def work() -> tuple[Lead, OutgoingMail]:
            lead = await _mailable_lead(info, lead_id)
            owner = await User.get_or_none(id=lead.owner_id) if lead.owner_id else None
            company = await Company.get_or_none(id=lead.company_id) if lead.company_id else None
            composed = await lead_mail.forward(
                viewer,
                lead,
                await get_setup(),
                to=to,
                comment=comment,
                owner=owner.username if owner else "",
                company=company.name if company else "",
                request_id=info.context.request_id,
            )
            return lead, composed.mail

        result, errors = await atomic(work)
        if result is None:
            return LeadMailPayload(outgoing_mail=None, lead=None, errors=user_errors(errors))
        outbox.wake.set()
        return LeadMailPayload(outgoing_mail=result[1], lead=result[0], errors=[])

    @strawberry.mutation(
        description="Queue a failed or waiting message of yours again now (FM: anyone's).",
        extensions=auth(*LEAD_BITS, "FM"),
    )
    async def outgoing_mail_retry(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The message.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            found = await OutgoingMail.filter(
                visible_outgoing_q(viewer), id=parse_ref(id, "id")
            ).first()
            if found is None:
                raise FieldError("id", ErrorCode.NOT_FOUND, "No such message.")
            if found.state == OutgoingState.SENT:
                raise FieldError("id", ErrorCode.CONFLICT, "The message was sent already.")
            await outbox.retry_now(found.id)

        _, errors = await atomic(work)
        if not errors:
            outbox.wake.set()
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))

    @strawberry.mutation(
        description="Create a CRM template (CM) for a company you can see (default: yours).",
        extensions=auth("CM"),
    )
    async def crm_template_create(
        self,
        info: Info,
        input: Annotated[CrmTemplateCreateInput, Described(description="The template.")],
    ) -> CrmTemplatePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        data.setdefault("company_id", viewer.user.company_id)
        data["creator_id"] = viewer.user.id
        found, errors = await atomic(
            lambda: templates.save_template(
                viewer,
                None,
                data,
                visible_companies=own_or_visible_companies(viewer),
                request_id=info.context.request_id,
            )
        )
        return CrmTemplatePayload(template=found, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change a CRM template you manage: one you created, or one whose "
        "managing company you can edit with CM (superadmins: any).",
        extensions=auth(),
    )
    async def crm_template_update(
        self,
        info: Info,
        input: Annotated[CrmTemplateUpdateInput, Described(description="The changes.")],
    ) -> CrmTemplatePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> MailTemplate:
            found = await _manageable_template(info, data.pop("id"))
            return await templates.save_template(
                viewer,
                found,
                data,
                visible_companies=own_or_visible_companies(viewer),
                request_id=info.context.request_id,
            )

        found, errors = await atomic(work)
        return CrmTemplatePayload(template=found, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a CRM template you manage: one you created, or one whose "
        "managing company you can edit with CM (superadmins: any).",
        extensions=auth(),
    )
    async def crm_template_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The template.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            found = await _manageable_template(info, id)
            await templates.delete_template(viewer, found, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
