"""Command line of the scoring service: ``migrate``, ``serve``, ``worker``,
``import-berka`` and ``rescore``."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from counterflow_shared.persistence.db import session_scope
from counterflow_shared.persistence.migrations import upgrade_to_head
from counterflow_shared.runtime import ServiceRuntime, run_worker_process, serve_http
from counterflow_scoring.main import PACKAGE_DIR, SPEC
from counterflow_scoring.settings import ScoringSettings, get_settings

app = typer.Typer(help="Counterflow scoring service", no_args_is_help=True)
console = Console()


@app.command()
def migrate() -> None:
    """Upgrade the service database to the head revision (a one-off job before start)."""
    upgrade_to_head(PACKAGE_DIR, get_settings().database_url)
    typer.echo("migrations at head")


@app.command()
def serve(workers: bool | None = typer.Option(None, "--workers/--no-workers", help="run relay and consumers in the API process [default: the embedded_workers setting, true]")) -> None:
    """Run the HTTP API (with embedded relay and consumers unless --no-workers)."""
    settings = get_settings()
    if workers is not None:
        settings.embedded_workers = workers
    from counterflow_scoring.main import create_app

    serve_http(create_app(settings), settings)


@app.command()
def worker() -> None:
    """Run the outbox relay and the consumers without HTTP (scaled on consumer lag)."""
    asyncio.run(run_worker_process(SPEC, get_settings()))


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
