"""Command line of the selfservice service: ``migrate``, ``serve``, ``worker`` (:func:`counterflow_shared.cli.service_cli`)."""

from __future__ import annotations

from counterflow_shared.cli import service_cli
from counterflow_selfservice.main import PACKAGE_DIR, SPEC, create_app
from counterflow_selfservice.settings import get_settings

app = service_cli(SPEC, PACKAGE_DIR, get_settings, create_app)

if __name__ == "__main__":
    app()
