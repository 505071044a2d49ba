"""Command line of the mobile-gateway service: ``migrate``, ``serve``, ``worker``."""

from __future__ import annotations

import asyncio

import typer

from counterflow_shared.persistence.migrations import upgrade_to_head
from counterflow_shared.runtime import run_worker_process, serve_http
from counterflow_mobile_gateway.main import PACKAGE_DIR, SPEC
from counterflow_mobile_gateway.settings import get_settings

app = typer.Typer(help="Counterflow mobile-gateway service", no_args_is_help=True)


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
    from counterflow_mobile_gateway.main import create_app

    serve_http(create_app(settings), settings)


@app.command()
def worker() -> None:
    """Run the outbox relay and the consumers without HTTP (scaled on consumer lag)."""
    asyncio.run(run_worker_process(SPEC, get_settings()))


if __name__ == "__main__":
    app()
