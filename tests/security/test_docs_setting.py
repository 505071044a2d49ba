"""``docs_enabled`` (``CF_DOCS_ENABLED``, off in the prod overlay) removes ``/docs`` and
``/openapi.json`` from every service; on, both are served (issue 21)."""

from __future__ import annotations

import importlib

import httpx
import pytest

SERVICES = {
    "counterflow_ticketing": "TicketingSettings",
    "counterflow_selfservice": "SelfServiceSettings",
    "counterflow_mobile_gateway": "MobileGatewaySettings",
    "counterflow_scoring": "ScoringSettings",
}


@pytest.mark.parametrize("module", list(SERVICES))
@pytest.mark.parametrize("enabled", [True, False])
async def test_the_docs_endpoints_follow_the_setting(module: str, enabled: bool) -> None:
    settings = getattr(importlib.import_module(f"{module}.settings"), SERVICES[module])(docs_enabled=enabled)
    app = importlib.import_module(f"{module}.main").create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:  # no lifespan: routing only
        for path in ("/docs", "/openapi.json"):
            assert (await client.get(path)).status_code == (200 if enabled else 404), path
    assert app.openapi()["paths"]  # the contract is still generated (make contract)
