"""Command line of the mobile-gateway service: ``migrate``, ``serve``, ``worker`` (:func:`counterflow_shared.cli.service_cli`)."""

from __future__ import annotations

from counterflow_shared.cli import service_cli
from counterflow_mobile_gateway.main import PACKAGE_DIR, SPEC, create_app
from counterflow_mobile_gateway.settings import get_settings

app = service_cli(SPEC, PACKAGE_DIR, get_settings, create_app)

if __name__ == "__main__":
    app()
