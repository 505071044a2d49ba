"""Command line of the ticketing service: ``migrate``, ``serve``, ``worker`` (:func:`counterflow_shared.cli.service_cli`)."""

from __future__ import annotations

from counterflow_shared.cli import service_cli
from counterflow_ticketing.main import PACKAGE_DIR, SPEC, create_app
from counterflow_ticketing.settings import get_settings

app = service_cli(SPEC, PACKAGE_DIR, get_settings, create_app)
app.add_typer(__import__("counterflow_ticketing.cli_rules", fromlist=["app"]).app, name="rules")  # channel rule sets (issue 7)

if __name__ == "__main__":
    app()
