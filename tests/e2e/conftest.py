"""Shared pieces of the cross-service tests: the mobile gateway's own test fixtures and
ticketing running in this process. Each test module defines its own session-scoped
``topic_prefix`` (and registers the gateway fixtures in its namespace, so each module
gets a gateway on its own topics): ticketing instances of other tests, or rule sets
another module activates, never reach it."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from counterflow_shared.events.kafka import delete_topics, ensure_topics
from counterflow_testkit import _in_thread, delete_redis_prefix, drop_database, migrated_database, running_app
from counterflow_shared.devidp import issue_staff_token

from counterflow_ticketing import main as ticketing_main
from counterflow_ticketing.settings import TicketingSettings


def gateway_test_support() -> ModuleType:
    """The mobile gateway's own test fixtures (a real gateway server, customers, SSE and
    Kafka helpers), loaded from its conftest so cross-service tests reuse them. Assign
    its ``database``, ``redis_prefix``, ``gateway``, ``client`` and ``kit`` fixtures at
    module level in the test module."""
    path = Path(__file__).resolve().parents[2] / "services" / "mobile-gateway" / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location(f"mobile_gateway_test_support_{uuid.uuid4().hex[:6]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
async def ticketing(infrastructure: Any, topic_prefix: str):  # noqa: ANN201
    """``(client, settings)`` of ticketing running in this process against the same
    broker and the requesting module's topic prefix (own database and Redis prefix)."""
    import counterflow_ticketing

    name, url = migrated_database(Path(counterflow_ticketing.__file__).parent, "e2e_ticketing")
    settings = TicketingSettings(database_url=url, topic_prefix=topic_prefix, redis_prefix=f"test:e2e-ticketing:{uuid.uuid4().hex[:8]}:", log_json=False, log_level="WARNING", load_check_interval_s=0.5)
    app = ticketing_main.create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    try:
        async with running_app(app) as client:
            yield client, settings
    finally:
        await delete_redis_prefix(settings.redis_url, settings.redis_prefix)
        drop_database(name)


def own_topics(bootstrap: str) -> Iterator[str]:
    """A fresh topic prefix with every catalog topic created, deleted afterwards: a test
    module's own topics (the rule sets it activates are global, so they reach no other
    module). Use as the body of a session-scoped ``topic_prefix`` fixture."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    created = _in_thread(asyncio.run, ensure_topics(bootstrap, prefix=prefix))
    yield prefix
    _in_thread(asyncio.run, delete_topics(bootstrap, created))


async def activate_rules(tclient: Any, settings: TicketingSettings, doc: dict[str, Any]) -> int:
    """Propose ``doc`` as one staff member, approve (and activate) it as another; returns
    the active version."""
    r = await tclient.post("/v1/rules/sets", json={"document": doc, "comment": "e2e"}, headers=staff(settings, "operations", "*", "maker-e2e"))
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = await tclient.post(f"/v1/rules/sets/{version}/approve", json={"comment": "ok"}, headers=staff(settings, "approver", "*", "checker-e2e"))
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    return version


def staff(settings: TicketingSettings, role: str, branch_id: str, subject: str) -> dict[str, str]:
    """Authorization header of a ticketing staff token (``branch_id`` may be ``*``)."""
    token = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject=subject, role=role, branches=[branch_id])
    return {"Authorization": f"Bearer {token}"}


async def open_branch(tclient: Any, settings: TicketingSettings, name: str) -> tuple[str, str, dict[str, str]]:
    """Set up a branch in ticketing (open around the clock in Europe/Prague, offering
    ``cash_withdrawal`` and ``transfer``) with one cash counter whose teller session is
    open; returns ``(branch_id, counter_id, teller headers)``."""
    branch_id = f"b-{uuid.uuid4().hex[:10]}"
    ops = staff(settings, "operations", branch_id, "ops-1")
    body = {
        "name": name,
        "time_zone": "Europe/Prague",
        "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
        "zones": [{"zone": "cash", "name": "Cash"}],
        "services": ["cash_withdrawal", "transfer"],
    }
    r = await tclient.put(f"/v1/branches/{branch_id}", json=body, headers=ops)
    assert r.status_code == 200, r.text
    counter = f"{branch_id}-c1"
    r = await tclient.put(f"/v1/branches/{branch_id}/counters/{counter}", json={"name": "Counter 1", "kind": "cash", "zone": "cash", "skills": ["cash", "payments"]}, headers=ops)
    assert r.status_code == 200, r.text
    teller = staff(settings, "teller", branch_id, "teller-1")
    r = await tclient.post(f"/v1/counters/{counter}/session/open", headers=teller)
    assert r.status_code == 201, r.text
    return branch_id, counter, teller
