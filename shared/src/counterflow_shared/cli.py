"""The command line every service has (``python -m counterflow_<service>``): ``migrate``,
``serve`` and ``worker``, built by :func:`service_cli` from the service's facts; a service
adds its own commands to the returned Typer app (ticketing ``rules``, scoring
``import-berka`` and ``rescore``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from counterflow_shared.persistence.migrations import upgrade_to_head
from counterflow_shared.runtime import ServiceSpec, run_worker_process, serve_http
from counterflow_shared.settings import ServiceSettings


def service_cli(spec: ServiceSpec, package_dir: Path, get_settings: Callable[[], ServiceSettings], create_app: Callable[[Any], Any]) -> typer.Typer:
    """The Typer app of the service ``spec.name``.

    Args:
        spec: the service's runtime facts (tables, consumers, loops).
        package_dir: the service package (its ``migrations`` live there).
        get_settings: the service's settings from the environment.
        create_app: builds the FastAPI app from settings.
    """
    app = typer.Typer(help=f"Counterflow {spec.name} service", no_args_is_help=True)

    @app.command()
    def migrate() -> None:
        """Upgrade the service database to the head revision (a one-off job before start)."""
        upgrade_to_head(package_dir, get_settings().database_url)
        typer.echo("migrations at head")

    @app.command()
    def serve(workers: bool | None = typer.Option(None, "--workers/--no-workers", help="run relay and consumers in the API process [default: the embedded_workers setting, true]")) -> None:
        """Run the HTTP API (with embedded relay and consumers unless --no-workers)."""
        settings = get_settings()
        if workers is not None:
            settings.embedded_workers = workers
        serve_http(create_app(settings), settings)

    @app.command()
    def worker() -> None:
        """Run the outbox relay and the consumers without HTTP (scaled on consumer lag)."""
        asyncio.run(run_worker_process(spec, get_settings()))

    return app
