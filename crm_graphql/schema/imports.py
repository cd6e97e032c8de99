"""Payload of the CSV imports (companyImport, contactImport)."""

from __future__ import annotations

import strawberry

from crm_graphql.schema.common import PayloadErrorCode, UserError, user_errors
from crm_graphql.services.imports.results import ImportResult


@strawberry.type(description="A row of an imported file that was refused, and why.")
class ImportRowError:
    line: int = strawberry.field(
        description="Line of the file where the row starts (the header is line 1)."
    )
    field: str | None = strawberry.field(
        description="The column at fault, named as in the header; null for the whole row."
    )
    code: PayloadErrorCode = strawberry.field(description="Machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")


@strawberry.type(
    description="Result of companyImport or contactImport. The counts describe the rows of "
    "the file; `written` says whether the changes were saved."
)
class ImportPayload:
    created: int = strawberry.field(description="Rows that create an object.")
    updated: int = strawberry.field(description="Rows that change an existing object.")
    unchanged: int = strawberry.field(
        description="Rows identical to the existing object (nothing to do)."
    )
    rejected: int = strawberry.field(description="Rows refused; see rowErrors.")
    row_errors: list[ImportRowError] = strawberry.field(
        description="Every problem of every refused row (at most 10,000 are listed)."
    )
    row_errors_truncated: bool = strawberry.field(
        description="True when more row errors exist than are listed."
    )
    dry_run: bool = strawberry.field(description="The file was only checked.")
    written: bool = strawberry.field(
        description="The changes were saved: false for a dry run, for a file with errors "
        "(unless partial) and for a file that could not be read."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the file as a whole (encoding, header); nothing was "
        "written when there are any."
    )

    @classmethod
    def from_result(cls, result: ImportResult) -> ImportPayload:
        return cls(
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            rejected=result.rejected,
            row_errors=[
                ImportRowError(
                    line=e.line, field=e.field, code=PayloadErrorCode(e.code), message=e.message
                )
                for e in result.row_errors
            ],
            row_errors_truncated=result.row_errors_truncated,
            dry_run=result.dry_run,
            written=result.written,
            errors=user_errors(result.errors),
        )
