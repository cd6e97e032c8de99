"""Types, inputs and payloads of lead e-mail: CRM templates, outgoing messages (the
outbox) and the reference mailbox's status."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from crm_graphql.context import Info
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead
from crm_graphql.models.mail import MailTemplate, OutgoingMail
from crm_graphql.models.users import User
from crm_graphql.schema.common import COMPANY_TYPE, USER_TYPE, UserError

if TYPE_CHECKING:
    from crm_graphql.schema.leads import LeadObjectType


@strawberry.type(
    name="CrmTemplate",
    description="A mail template for leads. Macros: _DEST_NAME_, _DEST_EMAIL_ (the lead), "
    "_SRC_NAME_, _SRC_EMAIL_ (the sender). Only users of its managing company see it.",
)
class CrmTemplateType:
    id: strawberry.ID = strawberry.field(description="Template id.")
    name: str = strawberry.field(description="Name (unique per company and language).")
    language: str = strawberry.field(description="Language code; offered for leads in it.")
    subject: str = strawberry.field(description="Subject, with macros.")
    body_html: str = strawberry.field(description="HTML body, with macros (values escaped).")
    updated_at: datetime = strawberry.field(description="Last change.")

    @strawberry.field(description="The managing company.", graphql_type=COMPANY_TYPE | None)
    async def company(self, root: strawberry.Parent[Any], info: Info) -> Company | None:
        if root.company_id is None:
            return None
        return await info.context.loaders.companies.company.load(root.company_id)


@strawberry.input(description="A CRM template.")
class CrmTemplateCreateInput:
    name: str = strawberry.field(description="Name.")
    language: str = strawberry.field(default="", description="Language code, e.g. en.")
    subject: str = strawberry.field(default="", description="Subject (one line).")
    body_html: str = strawberry.field(default="", description="HTML body.")
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Managing company (one you can see); default: your company.",
    )


@strawberry.input(description="Changes to a CRM template; omitted fields stay.")
class CrmTemplateUpdateInput:
    id: strawberry.ID = strawberry.field(description="The template.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    language: str | None = strawberry.field(default=strawberry.UNSET, description="Language.")
    subject: str | None = strawberry.field(default=strawberry.UNSET, description="Subject.")
    body_html: str | None = strawberry.field(default=strawberry.UNSET, description="HTML body.")
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Managing company (one you can see)."
    )


@strawberry.type(description="Result of a CRM template mutation.")
class CrmTemplatePayload:
    template: MailTemplate | None = strawberry.field(
        graphql_type=CrmTemplateType | None, description="The template."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.enum(description="Where an outgoing message is.")
class OutgoingMailState(Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Waiting for (another) attempt.")
    SENT = strawberry.enum_value("SENT", description="Accepted by the SMTP server.")
    FAILED = strawberry.enum_value(
        "FAILED", description="Refused for good, or too many attempts; see lastError."
    )


@strawberry.type(name="OutgoingMail", description="A message of the outbox.")
class OutgoingMailType:
    id: strawberry.ID = strawberry.field(description="Message id.")
    mail_from: str = strawberry.field(description="From.")
    recipients: list[str] = strawberry.field(description="To and Cc addresses.")
    subject: str = strawberry.field(description="Subject.")
    message_id: str = strawberry.field(description="Its Message-ID header.")
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    last_error: str = strawberry.field(description="Why the last attempt failed (empty: none).")
    next_attempt_at: datetime = strawberry.field(description="When it is tried next (queued).")
    created_at: datetime = strawberry.field(description="When it was queued.")
    sent_at: datetime | None = strawberry.field(description="When the server accepted it.")

    @strawberry.field(description="Its state.")
    def state(self, root: strawberry.Parent[Any]) -> OutgoingMailState:
        return OutgoingMailState(str(root.state))

    @strawberry.field(
        description="The lead it was sent from, when you can see it.",
        graphql_type=Annotated["LeadObjectType", strawberry.lazy("crm_graphql.schema.leads")]
        | None,
    )
    async def lead(self, root: strawberry.Parent[Any], info: Info) -> Lead | None:
        if root.lead_id is None:
            return None
        return await info.context.loaders.leads.lead.load(root.lead_id)

    @strawberry.field(description="Who sent it.", graphql_type=USER_TYPE | None)
    async def sender(self, root: strawberry.Parent[Any], info: Info) -> User | None:
        if root.sender_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.sender_id)


@strawberry.input(description="A reply to a lead's prospect.")
class LeadSendEmailInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead (its owner, LM or superadmin).")
    template_id: strawberry.ID | None = strawberry.field(
        default=None, description="A CRM template you can use (fills subject and body)."
    )
    subject: str | None = strawberry.field(
        default=None, description="Subject (without the [Lead#id] token, which is added)."
    )
    body_html: str | None = strawberry.field(default=None, description="HTML body.")
    cc: list[str] | None = strawberry.field(
        default=None, description="Copy addresses (the reference mailbox is always copied)."
    )
    attachments: list[Upload] | None = strawberry.field(
        default=None,
        description="Files, sent as a GraphQL multipart request; kept as lead files.",
    )


@strawberry.type(description="Result of leadSendEmail or leadForward.")
class LeadMailPayload:
    outgoing_mail: OutgoingMail | None = strawberry.field(
        description="The queued message (see its state).", graphql_type=OutgoingMailType | None
    )
    lead: Lead | None = strawberry.field(
        description="The lead, with the new activity and history.",
        graphql_type=Annotated["LeadObjectType", strawberry.lazy("crm_graphql.schema.leads")]
        | None,
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")


@strawberry.type(description="The reference mailbox poller and the outbox at a glance.")
class MailStatus:
    imap_configured: bool = strawberry.field(description="IMAP server and login are set.")
    smtp_configured: bool = strawberry.field(description="An SMTP server is set.")
    last_poll_at: datetime | None = strawberry.field(description="The last poll's start.")
    last_success_at: datetime | None = strawberry.field(
        description="The last poll that read the mailbox."
    )
    last_error: str = strawberry.field(description="The last poll's problem (empty: none).")
    filed_total: int = strawberry.field(description="Messages filed into leads so far.")
    queued: int = strawberry.field(description="Outgoing messages waiting.")
    failed: int = strawberry.field(description="Outgoing messages that failed for good.")
