"""Command line of the scoring service: ``migrate``, ``serve``, ``worker``
(:func:`counterflow_shared.cli.service_cli`), ``import-berka`` and ``rescore``."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from counterflow_shared.persistence.db import session_scope
from counterflow_shared.cli import service_cli
from counterflow_shared.runtime import ServiceRuntime
from counterflow_scoring.main import PACKAGE_DIR, SPEC, create_app
from counterflow_scoring.settings import ScoringSettings, get_settings

app = service_cli(SPEC, PACKAGE_DIR, get_settings, create_app)
console = Console()


async def _import(settings: ScoringSettings, data_dir: Path, rescore: bool) -> None:
    from counterflow_scoring.domain.importing import import_berka

    runtime = ServiceRuntime(SPEC, settings)
    try:
        with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total)
                bar.update(tasks[table], completed=done, total=total)

            report = await import_berka(runtime.sessions, data_dir, chunk_rows=settings.import_chunk_rows, progress=progress)
        for t in report.tables:
            console.print(f"{t.table:<16} file {t.file_rows:>6}  written {t.written:>6}  stored {t.stored:>6}{'  (unchanged, skipped)' if t.skipped else ''}")
        if rescore:
            await _rescore(runtime)
    finally:
        await runtime.aclose()


async def _rescore(runtime: ServiceRuntime) -> None:
    from counterflow_scoring.domain.scoring import rescore_book

    with console.status("rescoring the book"):
        async with session_scope(runtime.sessions) as session:
            report = await rescore_book(session, runtime.publish, runtime.settings)
    console.print_json(data=asdict(report))


@app.command("import-berka")
def import_berka_command(
    data: Path = typer.Option(None, "--data", help="folder of the PKDD'99 *.asc files (default: CF_SCORING_BERKA_DATA_DIR)"),
    rescore: bool = typer.Option(True, help="rescore the book after the import"),
) -> None:
    """Import the PKDD'99 "financial" book (idempotent, resumable), then rescore it."""
    settings = get_settings()
    asyncio.run(_import(settings, data or settings.berka_data_dir, rescore))


@app.command()
def rescore() -> None:
    """Rescore the whole book; publishes only material changes (through the outbox)."""

    async def _run() -> None:
        runtime = ServiceRuntime(SPEC, get_settings())
        try:
            await _rescore(runtime)
        finally:
            await runtime.aclose()

    asyncio.run(_run())


if __name__ == "__main__":
    app()
