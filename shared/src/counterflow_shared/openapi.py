"""The services' HTTP contracts as committed files: ``docs/api/<service>.openapi.json``.

Each service's OpenAPI document is generated from its FastAPI app (``create_app()`` with the
default settings, nothing started); a test regenerates them, fails on drift and validates each
against the OpenAPI 3.1 schema (openapi-spec-validator). Update them with ``make contract``::

    python -m counterflow_shared.openapi docs/api

The service packages are imported by name, so ``shared`` does not depend on them.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

#: service name -> the module whose ``create_app()`` builds its FastAPI app
SERVICES: dict[str, str] = {
    "ticketing": "counterflow_ticketing.main",
    "selfservice": "counterflow_selfservice.main",
    "mobile-gateway": "counterflow_mobile_gateway.main",
    "scoring": "counterflow_scoring.main",
}


def openapi_document(service: str) -> dict[str, Any]:
    """The OpenAPI document of ``service`` (a key of :data:`SERVICES`).

    Raises:
        KeyError: unknown service.
    """
    app = importlib.import_module(SERVICES[service]).create_app()
    return app.openapi()


def render(service: str) -> str:
    """The document as stable, pretty JSON text (what is checked in)."""
    return json.dumps(openapi_document(service), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    """Write every service's document into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for service in SERVICES:
        path = folder / f"{service}.openapi.json"
        path.write_text(render(service))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api")):
        print(p)
