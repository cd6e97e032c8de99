"""Mail from a lead (SPEC §7): a reply to the prospect with the `[Lead#<id>]` token and
the reference mailbox in CC, or the lead's details forwarded to any address. Each is
queued in the outbox and recorded as a lead activity, a history line and an audit entry,
in the caller's one transaction."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.files import FileOwner
from crm_graphql.models.leads import Lead, LeadActivityKind, LeadHistoryKind
from crm_graphql.models.mail import MailTemplate, OutgoingMail
from crm_graphql.models.setup import CrmSetup
from crm_graphql.services import audit, files, leads, outbox
from crm_graphql.services.auth import Viewer
from crm_graphql.services.crm_templates import render
from crm_graphql.services.leads import progress_name
from crm_graphql.services.mailmessages import (
    Attachment,
    build_message,
    check_header,
    html_to_text,
    parse_addresses,
    with_lead_token,
)
from crm_graphql.settings import Settings
from crm_graphql.values import cents_to_decimal

MAX_COPIES = 20
BODY_LIMIT = 500_000


@dataclass
class Composed:
    mail: OutgoingMail
    subject: str


def _sender(viewer: Viewer) -> tuple[str, str]:
    user = viewer.user
    if not user.email:
        raise FieldError(
            "from", ErrorCode.REQUIRED, "Your user has no e-mail address to send from."
        )
    return user.email, user.real_name or user.username


async def send_reply(
    viewer: Viewer,
    lead: Lead,
    setup: CrmSetup,
    *,
    subject: str | None,
    body_html: str | None,
    template: MailTemplate | None,
    copies: list[str],
    uploads: list[Any],
    config: Settings,
    request_id: str = "",
) -> Composed:
    """Reply to the prospect: From you, To the lead, CC your copies and the reference
    mailbox, the token in the subject, HTML with a text alternative, the uploads attached
    (and kept as lead files)."""
    errors: list[FieldError] = []
    if not lead.email:
        errors.append(FieldError("leadId", ErrorCode.INVALID, "The lead has no e-mail address."))
    if template is not None:
        rendered_subject, rendered_body = render(template, lead, viewer.user)
        subject = subject if subject else rendered_subject
        body_html = body_html if body_html else rendered_body
    if not (subject or "").strip():
        errors.append(FieldError("subject", ErrorCode.REQUIRED, "Give a subject (or a template)."))
    if not (body_html or "").strip():
        errors.append(FieldError("bodyHtml", ErrorCode.REQUIRED, "Give a body (or a template)."))
    elif len(body_html or "") > BODY_LIMIT:
        errors.append(
            FieldError("bodyHtml", ErrorCode.TOO_LARGE, f"At most {BODY_LIMIT} characters.")
        )
    cc: list[str] = []
    try:
        check_header("subject", subject or "")
        cc = parse_addresses("cc", copies)
        if len(cc) > MAX_COPIES:
            raise FieldError("cc", ErrorCode.TOO_LARGE, f"At most {MAX_COPIES} copy addresses.")
    except FieldError as exc:
        errors.append(exc)
    try:
        sender, sender_name = _sender(viewer)
    except FieldError as exc:
        errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    if setup.mail_reference_address:
        cc.append(setup.mail_reference_address)
    attachments: list[Attachment] = []
    for upload in uploads:
        stored = await files.store(
            FileOwner.LEAD,
            lead.id,
            None,
            upload,
            getattr(upload, "filename", None),
            getattr(upload, "content_type", None),
            "Sent by e-mail",
            viewer.user,
            config=config,
            request_id=request_id,
        )
        data = await files.read_bytes(stored, config)
        attachments.append(Attachment(stored.original_name, stored.content_type, data))
    full_subject = with_lead_token(lead.id, (subject or "").strip())
    message = build_message(
        sender=sender,
        sender_name=sender_name,
        to=lead.email,
        cc=cc,
        subject=full_subject,
        html=body_html or "",
        attachments=attachments,
        origin=outbox.origin(),
    )
    mail = await outbox.enqueue(message, sender=viewer.user, lead_id=lead.id)
    await leads.add_activity(
        lead,
        viewer.user,
        html_to_text(body_html or "") or "(no text)",
        kind=LeadActivityKind.MAIL_SENT,
        sender=sender,
        subject=full_subject,
        request_id=request_id,
    )
    await leads.add_history(
        lead.id,
        viewer.user,
        LeadHistoryKind.MAIL_SENT,
        f"Mail sent to {lead.email}: {full_subject}",
    )
    await audit.record(
        viewer.user, "MAIL", "Lead", lead.id,
        {"outgoing_mail_id": mail.id, "to": lead.email, "cc": cc, "subject": full_subject},
        request_id,
    )  # fmt: skip
    return Composed(mail=mail, subject=full_subject)


def lead_details_html(lead: Lead, setup: CrmSetup, owner: str, company: str) -> str:
    rows = [
        ("Lead", f"#{lead.id}"),
        ("Name", lead.full_name),
        ("E-mail", lead.email),
        ("Phone", lead.phone),
        ("Mobile", lead.mobile),
        ("Position", lead.position),
        ("Company", lead.prospect_company),
        ("Country", lead.country),
        ("Language", lead.language),
        ("Product", lead.product),
        ("Channel", lead.channel),
        ("Estimated sale", f"{cents_to_decimal(lead.estimated_sale_cents)} {lead.currency}"),
        ("Close date", lead.close_date.isoformat() if lead.close_date else ""),
        ("Progress", progress_name(setup, lead.progress)),
        ("Owner", owner),
        ("Managed by", company),
        ("Executive overview", lead.executive_overview),
        ("Description", lead.description),
    ]
    cells = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in rows
        if v
    )
    return f"<table>{cells}</table>"


async def forward(
    viewer: Viewer,
    lead: Lead,
    setup: CrmSetup,
    *,
    to: list[str],
    comment: str,
    owner: str,
    company: str,
    request_id: str = "",
) -> Composed:
    """The lead's details (and a comment) to any addresses."""
    errors: list[FieldError] = []
    recipients: list[str] = []
    try:
        recipients = parse_addresses("to", to)
        if not recipients:
            raise FieldError("to", ErrorCode.REQUIRED, "Give at least one address.")
        if len(recipients) > MAX_COPIES:
            raise FieldError("to", ErrorCode.TOO_LARGE, f"At most {MAX_COPIES} addresses.")
    except FieldError as exc:
        errors.append(exc)
    if len(comment) > BODY_LIMIT:
        errors.append(
            FieldError("comment", ErrorCode.TOO_LARGE, f"At most {BODY_LIMIT} characters.")
        )
    try:
        sender, sender_name = _sender(viewer)
    except FieldError as exc:
        errors.append(exc)
    if errors:
        raise PayloadErrors(errors)
    body = "".join(
        f"<p>{html.escape(line)}</p>" for line in comment.splitlines() if line.strip()
    ) + lead_details_html(lead, setup, owner, company)
    subject = with_lead_token(lead.id, f"Lead: {lead.full_name}")
    message = build_message(
        sender=sender,
        sender_name=sender_name,
        to=recipients,
        subject=subject,
        html=body,
        origin=outbox.origin(),
    )
    mail = await outbox.enqueue(message, sender=viewer.user, lead_id=lead.id)
    text = f"Forwarded to {', '.join(recipients)}." + (
        f"\n\n{comment.strip()}" if comment.strip() else ""
    )
    await leads.add_activity(
        lead, viewer.user, text, kind=LeadActivityKind.FORWARDED, sender=sender, subject=subject,
        request_id=request_id,
    )  # fmt: skip
    await leads.add_history(
        lead.id, viewer.user, LeadHistoryKind.FORWARDED, f"Forwarded to {', '.join(recipients)}"
    )
    await audit.record(
        viewer.user, "FORWARD", "Lead", lead.id, {"outgoing_mail_id": mail.id, "to": recipients},
        request_id,
    )  # fmt: skip
    return Composed(mail=mail, subject=subject)
