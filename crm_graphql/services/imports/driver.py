"""The import driver every entity's importer runs on (SPEC §3, §4, §5, §9).

The file is streamed and handled in chunks of `CHUNK` rows. Each chunk is parsed row by
row (`Importer.parse`), validated with a handful of set-based queries (`validate`), then
written with bulk statements (`write`), inside one transaction for the whole file:

- without `partial` nothing is written unless every row is valid; with it, good rows
  are written and bad ones reported; `dry_run` writes nothing at all;
- each bad row is reported with its line (the header is line 1) and column;
- a row identical to the object it matches is unchanged, so an exported file imports
  back as a no-op;
- created and updated objects get an audit entry each (with their custom field
  values), and the import one summary entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.services import audit
from crm_graphql.services.csvio import CsvFileError, check_encoding, read_rows
from crm_graphql.services.imports.results import ImportResult, Progress, RowError
from crm_graphql.services.imports.rows import Row
from crm_graphql.services.imports.sql import plan_cache

if TYPE_CHECKING:
    from crm_graphql.services.imports.base import Importer

CHUNK = 1000
IMPORT = "IMPORT"


class _Rollback(Exception):
    """Leaves the import's transaction without writing anything."""


async def run(
    importer: Importer,
    stream: BinaryIO,
    *,
    dry_run: bool,
    partial: bool,
    file_name: str,
    progress: Progress | None,
) -> ImportResult:
    result = ImportResult(dry_run=dry_run, partial=partial)
    records = None
    try:
        check_encoding(stream)
        records = read_rows(stream)
        first = next(records, None)
        if first is None:
            raise CsvFileError("The file is empty: it needs at least the header row.")
        problem = await importer.check_header(first[1])
        if problem:
            raise CsvFileError(problem)
        if dry_run:
            await _chunks(importer, records, stream, result, None, progress)
            return result
        try:
            async with in_transaction() as conn:
                await plan_cache(conn, "force_custom_plan")
                await _chunks(importer, records, stream, result, conn, progress)
                if result.rejected and not partial:
                    raise _Rollback
                await audit.record(
                    importer.access.user,
                    IMPORT,
                    importer.object_type,
                    "",
                    {"file": file_name[:200], "partial": partial, **result.counts()},
                    importer.request_id,
                )
                result.written = True
        except _Rollback:
            pass
        except IntegrityError:
            # Another user wrote a clashing row (a name, a fiscal id) between our
            # checks and our inserts; the transaction is rolled back.
            raise CsvFileError(
                "The data changed while the file was imported (a name or fiscal id "
                "was taken meanwhile); nothing was written. Try again."
            ) from None
    except CsvFileError as exc:
        result.written = False
        result.errors.append(FieldError("file", ErrorCode.INVALID, str(exc)))
    finally:
        if records is not None:
            # Close the reader while the stream is open: an import stopped midway
            # (its deadline) would otherwise close it after the upload is gone.
            records.close()
    return result


async def _chunks(
    importer: Importer,
    records: Any,
    stream: BinaryIO,
    result: ImportResult,
    conn: BaseDBAsyncClient | None,
    progress: Progress | None,
) -> None:
    chunk: list[Row] = []
    read = 0

    async def flush() -> None:
        plan = await importer.validate(chunk, result)
        # Without `partial`, the first bad row means nothing will be kept: from
        # there on, only validate.
        if conn is not None and (result.partial or not result.rejected):
            await importer.write(plan, result, conn)
        chunk.clear()
        if progress is not None:
            progress(read, stream.tell())

    for line, cells in records:
        read += 1
        parsed = importer.split(line, cells)
        if isinstance(parsed, RowError):
            result.reject(line, [parsed])
            continue
        chunk.append(parsed)
        if len(chunk) >= CHUNK:
            await flush()
    if chunk:
        await flush()
    elif progress is not None:
        progress(read, stream.tell())
