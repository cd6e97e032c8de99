"""Keeping file rows and bytes in step: `crm-graphql files sweep` and `files move`.

`sweep` removes bytes no row points at (files on disk older than the grace period, so
an upload whose transaction is still open is never touched; blobs whose row is gone)
and stale upload temporaries, and reports rows whose bytes are in neither store: an
invoice's generated PDF among them is dropped and rendered again, anything else is
listed for an operator (the bytes are gone; only a backup has them).

`move` copies every file's bytes into the other store, checking the SHA-256, then
removes them from the old one; reads look in both stores, so servers keep serving
files while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crm_graphql.models.files import FileBlob, FileOwner, StoredFile
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.trash import TrashEntry
from crm_graphql.services.files.names import STORED_NAME_RE, files_root, path_of
from crm_graphql.services.files.storage import (
    DATABASE,
    FILESYSTEM,
    STORES,
    Opened,
    in_database,
    write_bytes,
)
from crm_graphql.services.files.transactions import file_transaction, unlink_quietly
from crm_graphql.services.orm import column_values
from crm_graphql.settings import Settings, settings

PAGE = 500


@dataclass
class SweepReport:
    files_on_disk_removed: list[str] = field(default_factory=list)
    blobs_removed: list[str] = field(default_factory=list)
    temporaries_removed: int = 0
    missing_file_ids: list[int] = field(default_factory=list)
    pdfs_requeued: list[int] = field(default_factory=list)  # invoice ids
    dry_run: bool = False

    def text(self) -> str:
        verb = "Would remove" if self.dry_run else "Removed"
        lines = [
            f"{verb} {len(self.files_on_disk_removed)} unreferenced file(s) on disk, "
            f"{len(self.blobs_removed)} unreferenced database blob(s), "
            f"{self.temporaries_removed} stale upload temporary file(s).",
            f"Rows without bytes: {len(self.missing_file_ids)}"
            + (
                f" (file ids {', '.join(map(str, self.missing_file_ids))})"
                if self.missing_file_ids
                else ""
            )
            + ".",
        ]
        if self.pdfs_requeued:
            ids = ", ".join(map(str, self.pdfs_requeued))
            lines.append(f"Invoice PDFs queued for rendering again: invoices {ids}.")
        return "\n".join(lines)


def _disk_listing(root: Path, grace: float) -> tuple[set[str], list[Path], list[Path]]:
    """Stored names on disk; those old enough to remove if unreferenced; old temporaries."""
    names: set[str] = set()
    old: list[Path] = []
    temporaries: list[Path] = []
    if not root.is_dir():
        return names, old, temporaries
    cutoff = time.time() - grace
    for shard in root.iterdir():
        if not shard.is_dir():
            continue
        for entry in shard.iterdir():
            try:
                mtime = entry.stat().st_mtime
            except OSError:
                continue
            if entry.name.startswith(".upload-"):
                if mtime < cutoff:
                    temporaries.append(entry)
            elif STORED_NAME_RE.match(entry.name):
                names.add(entry.name)
                if mtime < cutoff:
                    old.append(entry)
    return names, old, temporaries


async def sweep(
    config: Settings | None = None, *, grace_seconds: float = 3600, dry_run: bool = False
) -> SweepReport:
    """Reconcile file rows and bytes (see the module docstring)."""
    from crm_graphql.services.pdf_queue import queue_invoice_pdf

    config = config or settings
    report = SweepReport(dry_run=dry_run)
    started = datetime.now(UTC)
    # Bytes first, rows after: a blob seen here committed with its row, which the
    # later read then sees; files on disk are protected by the grace period.
    on_disk, old, temporaries = await asyncio.to_thread(
        _disk_listing, files_root(config), grace_seconds
    )
    blobs = set(await column_values(FileBlob.filter(seq=0), "stored_name"))
    rows = await StoredFile.all().values(
        "id", "stored_name", "created_at", "owner_kind", "owner_id", "generated"
    )
    referenced = {row["stored_name"] for row in rows}
    # Bytes of trashed files are kept until their trash entry is purged.
    for names in await TrashEntry.all().values_list("stored_names", flat=True):
        referenced.update(names or [])
    report.files_on_disk_removed = sorted(p.name for p in old if p.name not in referenced)
    report.blobs_removed = sorted(blobs - referenced)
    report.temporaries_removed = len(temporaries)
    missing = [
        row
        for row in rows
        if row["stored_name"] not in on_disk
        and row["stored_name"] not in blobs
        and row["created_at"] < started
    ]
    report.missing_file_ids = [row["id"] for row in missing]
    if dry_run:
        return report
    await asyncio.to_thread(
        unlink_quietly,
        [path_of(name, config) for name in report.files_on_disk_removed] + temporaries,
    )
    if report.blobs_removed:
        await FileBlob.filter(stored_name__in=report.blobs_removed).delete()
    for row in missing:
        if not (row["generated"] and row["owner_kind"] == FileOwner.INVOICE):
            continue
        async with file_transaction():
            invoice = await Invoice.filter(id=row["owner_id"]).select_for_update().first()
            await StoredFile.filter(id=row["id"]).delete()
            if invoice is not None:
                await queue_invoice_pdf(invoice, config)
                report.pdfs_requeued.append(invoice.id)
    return report


@dataclass
class MoveReport:
    moved: int = 0
    already: int = 0
    missing_file_ids: list[int] = field(default_factory=list)
    mismatched_file_ids: list[int] = field(default_factory=list)

    def text(self, to: str) -> str:
        text = f"Moved {self.moved} file(s) to the {to} store; {self.already} were there already."
        if self.missing_file_ids:
            text += f" No bytes anywhere for file ids {', '.join(map(str, self.missing_file_ids))}."
        if self.mismatched_file_ids:
            ids = ", ".join(map(str, self.mismatched_file_ids))
            text += f" Not moved (SHA-256 differs from the row): file ids {ids}."
        return text


async def _move_one(row: StoredFile, to: str, config: Settings, report: MoveReport) -> None:
    name = row.stored_name
    path = path_of(name, config)
    in_db = await in_database(name)
    on_disk = await asyncio.to_thread(path.is_file)
    there, elsewhere = (in_db, on_disk) if to == DATABASE else (on_disk, in_db)
    if there:
        report.already += 1
    elif not elsewhere:
        report.missing_file_ids.append(row.id)
        return
    else:
        # Read from the other store: the file on disk, or the database's chunks.
        source = Opened(name, path if to == DATABASE else None)
        async with file_transaction():
            _, sha = await write_bytes(source.chunks(), name, config, store_kind=to, limit=2**62)
            if sha != row.sha256:
                report.mismatched_file_ids.append(row.id)
                raise _Skip
        report.moved += 1
    # `to` has the bytes now: drop the other copy.
    if to == DATABASE and on_disk:
        await asyncio.to_thread(unlink_quietly, [path])
    elif to == FILESYSTEM and in_db:
        await FileBlob.filter(stored_name=name).delete()


class _Skip(Exception):
    """Roll one file's move back (its copy did not match the row)."""


async def move(to: str, config: Settings | None = None) -> MoveReport:
    """Move every file's bytes into the `to` store ("database" or "filesystem")."""
    if to not in STORES:
        raise ValueError(f"unknown file store {to!r}: use database or filesystem")
    config = config or settings
    report = MoveReport()
    last = 0
    while rows := await StoredFile.filter(id__gt=last).order_by("id").limit(PAGE):
        for row in rows:
            with contextlib.suppress(_Skip):
                await _move_one(row, to, config, report)
        last = rows[-1].id
    return report
