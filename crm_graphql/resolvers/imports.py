"""CSV imports of companies and contacts (the exports are plain HTTP endpoints, see
endpoints/exports.py). The mutation checks CW; each row is then checked against the
company rule by the service, with the rights given here."""

from __future__ import annotations

from typing import Annotated, Any, BinaryIO, Protocol, cast

import strawberry
from strawberry.file_uploads import Upload

from crm_graphql.context import Info
from crm_graphql.errors import BadUserInput
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.contracts import visible_contracts_q
from crm_graphql.permissions.imports import viewer_access
from crm_graphql.schema.imports import ImportPayload
from crm_graphql.services.deadline import deadline_scope
from crm_graphql.services.imports.companies import import_companies
from crm_graphql.services.imports.contacts import import_contacts
from crm_graphql.services.imports.contracts import import_contracts
from crm_graphql.services.imports.results import ContractAccess

Described = strawberry.argument


FileArg = Annotated[
    Upload,
    Described(
        description="The CSV file (multipart request): UTF-8, a header row, the columns "
        "of the matching export."
    ),
]
DryRunArg = Annotated[bool, Described(description="Only check the file and report; write nothing.")]
PartialArg = Annotated[
    bool,
    Described(
        description="Write the valid rows even when others are refused (by default nothing "
        "is written unless every row is valid)."
    ),
]


class FilePart(Protocol):
    """A file part of a GraphQL multipart request (a Starlette `UploadFile`)."""

    file: BinaryIO


def _require_part(file: object) -> FilePart:
    if not hasattr(file, "file"):
        # A literal or a JSON variable in place of the multipart request's file part.
        raise BadUserInput("`file` must be a part of a GraphQL multipart request.", argument="file")
    return cast(FilePart, file)


async def _run(info: Info, importer: Any, file: Any, dry_run: bool, partial: bool) -> ImportPayload:
    viewer = info.context.require_viewer()
    part = _require_part(file)
    # A file of many rows gets the import budget, not the query deadline.
    with deadline_scope(info.context.settings.import_timeout_seconds):
        result = await importer(
            part.file,
            viewer_access(viewer),
            dry_run=dry_run,
            partial=partial,
            request_id=info.context.request_id,
            file_name=getattr(file, "filename", None) or "",
        )
    return ImportPayload.from_result(result)


@strawberry.type
class ImportsMutation:
    @strawberry.mutation(
        description="Import companies from CSV (the columns of /export/companies.csv, then "
        "one per company custom field). Rows are matched by name: a new name creates, a "
        "known one updates a company you may edit, identical rows change nothing. The "
        "parent (by id) must be visible to you and the manager (by username) must exist; "
        "`last update` and `billing` are ignored. Needs CW.",
        extensions=auth("CW"),
    )
    async def company_import(
        self,
        info: Info,
        file: FileArg,
        dry_run: DryRunArg = False,
        partial: PartialArg = False,
    ) -> ImportPayload:
        return await _run(info, import_companies, file, dry_run, partial)

    @strawberry.mutation(
        description="Import contacts from CSV (the columns of /export/contacts.csv, then one "
        "per contact custom field). Rows are matched by company and e-mail (ignoring "
        "case): a new pair creates, a known one updates, identical rows change nothing. "
        "The company (by name) must be one you may edit. Needs CW.",
        extensions=auth("CW"),
    )
    async def contact_import(
        self,
        info: Info,
        file: FileArg,
        dry_run: DryRunArg = False,
        partial: PartialArg = False,
    ) -> ImportPayload:
        return await _run(info, import_contacts, file, dry_run, partial)

    @strawberry.mutation(
        description="Import contracts from CSV: the columns `name, contract number, "
        "description, date begin, date end, id company, id sla, id group, private, status, "
        "id contract type, related contract, manager, company` (SPEC §5, as "
        "/export/contracts.csv writes them), then the custom fields of each row's contract "
        "type in field order. `name` is the reference; the company is found by `company` "
        "(its name) when given, else by `id company`; status 0 inactive, 1 active, 2 "
        "pending (or the names); `related contract` holds contract ids separated by "
        "spaces; `manager` is the owner's username. Rows are matched by company and "
        "reference: a new pair creates, a known one updates a contract of a company you "
        "may edit, identical rows change nothing. Needs CW.",
        extensions=auth("CW"),
    )
    async def contract_import(
        self,
        info: Info,
        file: FileArg,
        dry_run: DryRunArg = False,
        partial: PartialArg = False,
    ) -> ImportPayload:
        viewer = info.context.require_viewer()
        part = _require_part(file)
        access = ContractAccess(
            company=viewer_access(viewer), visible_contracts=visible_contracts_q(viewer)
        )
        with deadline_scope(info.context.settings.import_timeout_seconds):
            result = await import_contracts(
                part.file,
                access,
                dry_run=dry_run,
                partial=partial,
                request_id=info.context.request_id,
                file_name=getattr(file, "filename", None) or "",
            )
        return ImportPayload.from_result(result)
