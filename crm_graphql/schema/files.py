"""Types, inputs and payloads of files (attachments of companies and contacts)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.file_uploads import Upload

from crm_graphql.context import Info
from crm_graphql.dataloaders.files import FILE_ORDER
from crm_graphql.models.companies import Company
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.users import User
from crm_graphql.permissions.files import (
    can_delete_file,
    can_delete_invoice_file,
    can_delete_lead_file,
)
from crm_graphql.schema.common import (
    USER_TYPE,
    Connection,
    UserError,
    nested_connection,
)
from crm_graphql.services.files.names import download_path

if TYPE_CHECKING:
    pass


@strawberry.enum(description="The kinds of objects files are attached to.")
class FileOwnerKind(Enum):
    COMPANY = strawberry.enum_value("COMPANY", description="A company.")
    CONTACT = strawberry.enum_value("CONTACT", description="A contact (of a company).")
    CONTRACT = strawberry.enum_value("CONTRACT", description="A contract (of a company).")
    INVOICE = strawberry.enum_value("INVOICE", description="An invoice (of a company).")
    LEAD = strawberry.enum_value("LEAD", description="A lead.")


async def owner_company(info: Info, file: StoredFile) -> Company | None:
    """The (visible) company of the file's owner, through the request's loaders."""
    loaders = info.context.loaders.companies
    if file.owner_kind == FileOwner.COMPANY:
        return await loaders.company.load(file.owner_id)
    if file.owner_kind == FileOwner.CONTACT:
        contact = await loaders.contact.load(file.owner_id)
        return None if contact is None else await loaders.company.load(contact.company_id)
    if file.owner_kind == FileOwner.CONTRACT:
        contract = await info.context.loaders.contracts.contract.load(file.owner_id)
        return None if contract is None else await loaders.company.load(contract.company_id)
    if file.owner_kind == FileOwner.INVOICE:
        invoice = await info.context.loaders.invoices.invoice.load(file.owner_id)
        return None if invoice is None else await loaders.company.load(invoice.company_id)
    return None


@strawberry.type(description="What you may do with a file.")
class FileViewerCan:
    delete: bool = strawberry.field(
        description="Delete it (fileDelete): its uploader with edit access to the company "
        "(or lead, or invoice), CM over the company (LM for a lead, IM for an invoice), "
        "or a superadmin."
    )


@strawberry.type(
    name="File",
    description="An attachment. Download its bytes with a GET of `downloadUrl` and the "
    "same bearer token.",
)
class FileType:
    id: strawberry.ID = strawberry.field(description="File id.")
    original_name: str = strawberry.field(
        description="The uploaded file's name, sanitised (no path, no control characters)."
    )
    content_type: str = strawberry.field(
        description="The media type the uploader declared (`type/subtype`)."
    )
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes, in hex.")
    description: str = strawberry.field(description="What the file is.")
    created_at: datetime = strawberry.field(description="Upload time.")

    @strawberry.field(description="The kind of object the file is attached to.")
    def owner_kind(self, root: strawberry.Parent[StoredFile]) -> FileOwnerKind:
        return FileOwnerKind(FileOwner(root.owner_kind).value)

    @strawberry.field(description="Id of the object the file is attached to.")
    def owner_id(self, root: strawberry.Parent[StoredFile]) -> strawberry.ID:
        return strawberry.ID(str(root.owner_id))

    @strawberry.field(
        description="Who uploaded it (null when that user was deleted).",
        graphql_type=USER_TYPE | None,
    )
    async def uploader(self, root: strawberry.Parent[StoredFile], info: Info) -> User | None:
        if root.uploader_id is None:
            return None
        return await info.context.loaders.companies.user.load(root.uploader_id)

    @strawberry.field(
        description="Relative URL that downloads the bytes (GET with your bearer token)."
    )
    def download_url(self, root: strawberry.Parent[StoredFile], info: Info) -> str:
        return info.context.request.scope.get("root_path", "") + download_path(root.id)

    @strawberry.field(description="What you may do with this file.")
    async def viewer_can(self, root: strawberry.Parent[StoredFile], info: Info) -> FileViewerCan:
        return FileViewerCan(delete=await _may_delete(info, root))

    @strawberry.field(
        description="Whether you may delete it (as `viewerCan { delete }`).",
        deprecation_reason="Use viewerCan { delete }",
    )
    async def viewer_can_delete(self, root: strawberry.Parent[StoredFile], info: Info) -> bool:
        return await _may_delete(info, root)


async def _may_delete(info: Info, root: StoredFile) -> bool:
    viewer = info.context.viewer
    if viewer is None:
        return False
    if root.owner_kind == FileOwner.LEAD:
        lead = await info.context.loaders.leads.lead.load(root.owner_id)
        return lead is not None and can_delete_lead_file(viewer, lead, root)
    if root.owner_kind == FileOwner.INVOICE:
        invoice = await info.context.loaders.invoices.invoice.load(root.owner_id)
        return invoice is not None and can_delete_invoice_file(viewer, invoice, root)
    return can_delete_file(viewer, await owner_company(info, root), root)


async def files_connection(
    info: Info, kind: FileOwner, owner_id: int, first: int | None
) -> Connection[FileType]:
    """The files of one owner, newest first, fetched per owner in one statement for
    all the owners of a request (the `files` field of companies and contacts)."""
    loaders = info.context.loaders.files
    return await nested_connection(
        info, loaders.page(kind), loaders.count(kind), owner_id, first, FILE_ORDER
    )


@strawberry.input(
    description="A file to attach to a company, contact, contract, invoice or lead you can edit."
)
class FileUploadInput:
    owner_kind: FileOwnerKind = strawberry.field(description="What the file is attached to.")
    owner_id: strawberry.ID = strawberry.field(
        description="Id of the company, contact, contract, invoice or lead."
    )
    file: Upload = strawberry.field(
        description="The file, sent as a part of a GraphQL multipart request."
    )
    description: str | None = strawberry.field(
        default=None, description="What the file is (at most 255 characters)."
    )


@strawberry.type(description="Result of fileUpload.")
class FileUploadPayload:
    file: StoredFile | None = strawberry.field(
        graphql_type=FileType | None, description="The stored file."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
