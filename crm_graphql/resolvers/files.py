"""Files of companies, contacts, contracts, invoices and leads: attach with edit access
to the owner (its company; an invoice or lead itself), delete as the uploader (still
able to edit), with CM (IM, LM), or as a superadmin. The bytes are
downloaded from the HTTP endpoint in endpoints/files.py, not through GraphQL."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError, NotFound
from crm_graphql.ids import parse_id
from crm_graphql.models.companies import Company
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.files import (
    can_delete_file,
    can_delete_invoice_file,
    can_delete_lead_file,
    visible_files_q,
)
from crm_graphql.resolvers.common import (
    close_upload,
    editable_company,
    editable_contact,
    editable_contract,
    editable_invoice,
    editable_lead,
)
from crm_graphql.resolvers.common import parse_id as parse_query_id
from crm_graphql.schema.common import DeletePayload, model_enum, user_errors
from crm_graphql.schema.files import (
    FileType,
    FileUploadInput,
    FileUploadPayload,
    owner_company,
)
from crm_graphql.services import files as service
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


async def editable_owner(info: Info, kind: FileOwner, owner_id: Any) -> tuple[int, Company | None]:
    """The owner's id and company when the viewer may edit that company (a lead: the
    lead): a hidden owner is a NOT_FOUND payload error on `ownerId`, a read-only one a
    FORBIDDEN error. Leads have no company (None)."""
    owner_id = parse_id(owner_id, "ownerId")
    if kind == FileOwner.COMPANY:
        company = await editable_company(info, owner_id, "ownerId")
        return company.id, company
    if kind == FileOwner.CONTACT:
        try:
            contact = await editable_contact(info, owner_id)
        except FieldError as exc:
            raise FieldError("ownerId", exc.code, exc.message) from None
        return contact.id, await Company.get(id=contact.company_id)
    if kind == FileOwner.CONTRACT:
        contract = await editable_contract(info, owner_id, "ownerId")
        return contract.id, await Company.get(id=contract.company_id)
    if kind == FileOwner.INVOICE:
        invoice = await editable_invoice(info, owner_id, "ownerId")
        return invoice.id, await Company.get(id=invoice.company_id)
    if kind == FileOwner.LEAD:
        lead = await editable_lead(info, owner_id, "ownerId")
        return lead.id, None
    raise FieldError("ownerKind", ErrorCode.INVALID, "Files cannot be attached to this kind yet.")


def _upload(value: Any) -> Any:
    """The uploaded part; anything else (a string in JSON variables) is refused."""
    if not (hasattr(value, "filename") and hasattr(value, "read")):
        raise FieldError(
            "file", ErrorCode.INVALID, "Send the file as a GraphQL multipart request part."
        )
    return value


@strawberry.type
class FilesQuery:
    @strawberry.field(
        description="One file you can see (NOT_FOUND otherwise).",
        extensions=auth("CR", "LR", "LW", "LM"),
        graphql_type=FileType,
    )
    async def file(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> StoredFile:
        viewer = info.context.require_viewer()
        found = await StoredFile.filter(visible_files_q(viewer), id=parse_query_id(id)).first()
        if found is None:
            raise NotFound(f"No file with id {id}.")
        return found


@strawberry.type
class FilesMutation:
    @strawberry.mutation(
        description="Attach a file to a company, contact or contract whose company you can "
        "edit (CW), to an invoice you can edit (attaching is editing the invoice: the rule of "
        "invoiceUpdate, IW or IM, whatever your company or lead bits), or to a lead you can "
        "edit (owner with LW, or LM). Send it as a GraphQL multipart request. A file over the "
        "upload limit (CRM_MAX_UPLOAD_BYTES) is refused with code TOO_LARGE and the limit in "
        "MB in the message: as this payload's error on `file`, or, when the request is so far "
        "over the limit that it is not read, as an HTTP 413 response whose error has "
        "extensions.code TOO_LARGE. Nothing is stored.",
        extensions=auth("CW", "IW", "IM", "LW", "LM"),
    )
    async def file_upload(
        self,
        info: Info,
        input: Annotated[FileUploadInput, Described(description="The owner and the file.")],
    ) -> FileUploadPayload:
        viewer = info.context.require_viewer()
        kind = model_enum(FileOwner, input.owner_kind)

        async def work() -> StoredFile:
            owner_id, company = await editable_owner(info, kind, input.owner_id)
            upload = _upload(input.file)
            return await service.store(
                kind,
                owner_id,
                company.id if company else None,
                upload,
                getattr(upload, "filename", None),
                getattr(upload, "content_type", None),
                input.description,
                viewer.user,
                config=info.context.settings,
                request_id=info.context.request_id,
            )

        try:
            stored, errors = await atomic(work)
        finally:
            await close_upload(input.file)
        return FileUploadPayload(file=stored, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a file and its bytes: its uploader (still able to edit the "
        "company, lead or invoice), a user with CM over the company (LM for a lead; for an "
        "invoice, IM and the right to edit it), or a superadmin.",
        extensions=auth("CW", "IW", "IM", "LW", "LM"),
    )
    async def file_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="The file.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            found = await StoredFile.filter(visible_files_q(viewer), id=parse_id(id, "id")).first()
            if found is None:
                raise FieldError("id", ErrorCode.NOT_FOUND, "No such file.")
            if found.owner_kind == FileOwner.LEAD:
                lead = await info.context.loaders.leads.lead.load(found.owner_id)
                allowed = lead is not None and can_delete_lead_file(viewer, lead, found)
            elif found.owner_kind == FileOwner.INVOICE:
                invoice = await info.context.loaders.invoices.invoice.load(found.owner_id)
                allowed = invoice is not None and can_delete_invoice_file(viewer, invoice, found)
            else:
                allowed = can_delete_file(viewer, await owner_company(info, found), found)
            if not allowed:
                raise info.context.deny(f"File {found.id}", "not deletable")
            await service.delete(
                found,
                viewer.user,
                config=info.context.settings,
                request_id=info.context.request_id,
            )

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
