"""Batch import of the PKDD'99 book into the scoring database: idempotent and resumable.

Each file is written in chunks of ``chunk_rows`` rows; each chunk and its checkpoint
(``import_checkpoints``: rows done, SHA-256 of the file) commit in one transaction, so an
interrupted import resumes after the last committed chunk, and a completed table whose
file has not changed is skipped. Rows are upserted by the file's own id, so running the
import again (even from scratch) never duplicates anything.

This is an operations job, not a request: it owns its transactions (one per chunk).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from counterflow_shared.persistence.db import session_scope
from counterflow_scoring.domain.berka import TABLES, BerkaTable, chunks, file_rows
from counterflow_scoring.persistence import repositories as repo

DATASET = "pkdd99-financial"

#: Progress callback: ``(table name, rows done, rows total)``.
Progress = Callable[[str, int, int], None]


@dataclass
class TableReport:
    """What the import did to one table: rows in the file, rows written this run, rows
    stored afterwards, and whether the table was skipped as already complete."""

    table: str
    file_rows: int
    written: int
    stored: int
    skipped: bool


@dataclass
class ImportReport:
    """Result of one import run (per table, in import order)."""

    tables: list[TableReport] = field(default_factory=list)

    @property
    def written(self) -> int:
        """Rows written in this run over all tables."""
        return sum(t.written for t in self.tables)


def fingerprint(path: Path) -> str:
    """SHA-256 (hex) of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_dir_under(root: Path, given: str) -> Path:
    """The folder ``given`` (absolute, or relative to ``root``) with symlinks and ``..``
    resolved, provided it lies inside ``root`` (itself resolved): the import API reads
    only the configured data root, never an arbitrary server folder.

    Raises:
        ValueError: the folder resolves outside ``root``.
    """
    base = root.resolve()
    folder = (base / given).resolve()
    if not folder.is_relative_to(base):
        raise ValueError(f"{given!r} is outside the import data root {base}; give a folder under it")
    return folder


def check_data_dir(data_dir: Path) -> list[str]:
    """Names of the PKDD'99 files missing from ``data_dir`` (empty when all are there)."""
    return [t.file for t in TABLES if not (data_dir / t.file).is_file()]


async def _import_table(sessions: async_sessionmaker[AsyncSession], data_dir: Path, table: BerkaTable, chunk_rows: int, progress: Progress | None, stop_after_chunks: int | None) -> TableReport:
    path = data_dir / table.file
    digest = fingerprint(path)
    async with session_scope(sessions) as session:
        checkpoint = await repo.get_checkpoint(session, dataset=DATASET, table_name=table.name)
    same_file = checkpoint is not None and checkpoint["fingerprint"] == digest
    if same_file and checkpoint["completed_at"] is not None:
        async with session_scope(sessions) as session:
            stored = await repo.count_rows(session, table.name)
        if progress:
            progress(table.name, checkpoint["rows_total"], checkpoint["rows_total"])
        return TableReport(table.name, checkpoint["rows_total"], 0, stored, True)
    rows = file_rows(data_dir, table)
    start = checkpoint["rows_done"] if same_file else 0
    written = 0
    if progress:
        progress(table.name, start, len(rows))
    for number, (end, part) in enumerate(chunks(rows, start, chunk_rows), start=1):
        async with session_scope(sessions) as session:
            await repo.upsert_book_rows(session, table.name, table.key, part)
            if table.name == "clients":
                await repo.upsert_imported_customers(session, part)
            done = end == len(rows)
            await repo.save_checkpoint(session, dataset=DATASET, table_name=table.name, fingerprint=digest, rows_done=end, rows_total=len(rows), completed_at=datetime.now(UTC) if done else None)
        written += len(part)
        if progress:
            progress(table.name, end, len(rows))
        if stop_after_chunks is not None and number >= stop_after_chunks and end < len(rows):
            raise ImportInterrupted(f"stopped after {number} chunks of {table.name} (test hook)")
    if start >= len(rows):  # empty file or nothing left: still mark complete
        async with session_scope(sessions) as session:
            await repo.save_checkpoint(session, dataset=DATASET, table_name=table.name, fingerprint=digest, rows_done=len(rows), rows_total=len(rows), completed_at=datetime.now(UTC))
    async with session_scope(sessions) as session:
        stored = await repo.count_rows(session, table.name)
    return TableReport(table.name, len(rows), written, stored, False)


class ImportInterrupted(RuntimeError):
    """The import stopped before the end (only raised through ``stop_after_chunks``)."""


async def import_berka(
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
    *,
    chunk_rows: int = 5000,
    progress: Progress | None = None,
    stop_after_chunks: int | None = None,
) -> ImportReport:
    """Import every PKDD'99 table from ``data_dir`` (see the module docstring).

    Args:
        stop_after_chunks: stop with :class:`ImportInterrupted` after this many chunks of
            a table that has more (used by tests to prove resumption).

    Raises:
        FileNotFoundError: a file of the data set is missing (nothing is written then).
        ValueError: a row cannot be parsed (earlier chunks stay, resumable after a fix).
    """
    missing = check_data_dir(data_dir)
    if missing:
        raise FileNotFoundError(f"PKDD'99 files missing under {data_dir}: {', '.join(missing)}")
    report = ImportReport()
    for table in TABLES:
        report.tables.append(await _import_table(sessions, data_dir, table, chunk_rows, progress, stop_after_chunks))
    return report
