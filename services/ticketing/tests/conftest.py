"""Fixtures of the ticketing tests: one migrated database per session, one in-process
app (real PostgreSQL, Redis and Kafka under a random topic prefix), staff tokens, a
settable clock and helpers that set up a branch with counters and a kiosk."""

from __future__ import annotations

from counterflow_testkit import fresh_topic_prefix
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from counterflow_shared.clock import FixedClock
from counterflow_testkit import delete_redis_prefix, drop_database, migrated_database, running_app
from counterflow_shared.devidp import issue_staff_token
from counterflow_ticketing.main import create_app
from counterflow_ticketing.settings import TicketingSettings

PACKAGE_DIR = Path(__import__("counterflow_ticketing").__file__).parent
KIOSK_SECRET = "kiosk-secret-0123456789"


@pytest.fixture(scope="session")
def database(infrastructure: Any) -> Iterator[str]:
    """URL of a database migrated to head for this test session (dropped afterwards)."""
    name, url = migrated_database(PACKAGE_DIR, "ticketing")
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def settings(database: str, topic_prefix: str) -> TicketingSettings:
    """Service settings on the test database, topic prefix and a private Redis prefix."""
    return TicketingSettings(
        database_url=database,
        topic_prefix=topic_prefix,
        redis_prefix=f"test:ticketing:{uuid.uuid4().hex[:8]}:",
        kiosk_requests_per_minute=100_000,
        load_check_interval_s=0.5,
        log_json=False,
        log_level="WARNING",
    )


@dataclass
class Service:
    """The running app: ``client`` talks to it in-process; ``runtime`` is its runtime."""

    client: httpx.AsyncClient
    app: Any
    settings: TicketingSettings
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def runtime(self) -> Any:
        """The app's :class:`~counterflow_shared.runtime.ServiceRuntime`."""
        return self.app.state.runtime

    def staff(self, role: str, branches: list[str], subject: str | None = None) -> dict[str, str]:
        """Authorization header of a staff token."""
        s = self.settings
        token = issue_staff_token(issuer=s.jwt_issuer, audience=s.jwt_audience, subject=subject or f"{role}-{uuid.uuid4().hex[:6]}", role=role, branches=branches)
        return {"Authorization": f"Bearer {token}"}

    def set_clock(self, at: datetime | None) -> None:
        """Freeze the service clock at ``at`` (``None`` = real time)."""
        original = self.runtime.state.setdefault("original_clock", self.runtime.clock)
        self.runtime.clock = original if at is None else FixedClock(at)


@pytest.fixture(scope="session")
async def service(settings: TicketingSettings) -> AsyncIterator[Service]:
    """The ticketing app running in-process with its relay, consumers and loops."""
    app = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    async with running_app(app) as client:
        yield Service(client=client, app=app, settings=settings)
    await delete_redis_prefix(settings.redis_url, settings.redis_prefix)


@pytest.fixture
def clock(service: Service) -> Iterator[Callable[[datetime | None], None]]:
    """Set the service clock for one test; restored to real time afterwards."""
    yield service.set_clock
    service.set_clock(None)


@dataclass
class Branch:
    """A branch set up through the operations API."""

    branch_id: str
    counters: list[str]
    kiosk: dict[str, str]
    ops: dict[str, str]
    teller: dict[str, str]
    lobby: dict[str, str]


async def make_branch(
    service: Service,
    *,
    time_zone: str = "Europe/Prague",
    counters: list[list[str]] | None = None,
    open_sessions: bool = True,
    services: list[str] | None = None,
    hours: list[dict[str, str | int]] | None = None,
    **extra: Any,
) -> Branch:
    """Create a branch (all seven weekdays 08:00-18:00 unless ``hours``), its counters
    (skills per counter), a kiosk, and open a teller session at every counter."""
    branch_id = f"b-{uuid.uuid4().hex[:10]}"
    ops = service.staff("operations", [branch_id])
    body = {
        "name": f"Branch {branch_id}",
        "time_zone": time_zone,
        "opening_hours": hours if hours is not None else [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(7)],
        "zones": [{"zone": "cash", "name": "Cash"}, {"zone": "non_cash", "name": "Advice"}],
        "services": services or ["cash_withdrawal", "cash_deposit", "transfer", "bill_payment", "account_opening"],
        **extra,
    }
    r = await service.client.put(f"/v1/branches/{branch_id}", json=body, headers=ops)
    assert r.status_code == 200, r.text
    ids = []
    for i, skills in enumerate(counters if counters is not None else [["cash", "payments"]]):
        cid = f"{branch_id}-c{i + 1}"
        kind = "cash" if "cash" in skills else "non_cash"
        r = await service.client.put(f"/v1/branches/{branch_id}/counters/{cid}", json={"name": f"Counter {i + 1}", "kind": kind, "zone": kind, "skills": skills}, headers=ops)
        assert r.status_code == 200, r.text
        ids.append(cid)
    kiosk_id = f"{branch_id}-k1"
    r = await service.client.put(f"/v1/branches/{branch_id}/kiosks/{kiosk_id}", json={"secret": KIOSK_SECRET}, headers=ops)
    assert r.status_code == 200, r.text
    # the teller of the first counter's session (a teller acts only at their own counter)
    teller = service.staff("teller", [branch_id], subject=f"teller-{ids[0]}" if ids else f"teller-{branch_id}")
    if open_sessions:
        for cid in ids:
            r = await service.client.post(f"/v1/counters/{cid}/session/open", headers=service.staff("teller", [branch_id], subject=f"teller-{cid}"))
            assert r.status_code == 201, r.text
    return Branch(branch_id, ids, {"Authorization": f"Bearer {kiosk_id}:{KIOSK_SECRET}"}, ops, teller, service.staff("lobby_manager", [branch_id]))


async def take_ticket(service: Service, branch: Branch, service_type: str = "cash_withdrawal", **body: Any) -> dict[str, Any]:
    """Request a service at the branch's kiosk and return the ticket (asserts a ticket came back)."""
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": service_type, **body}, headers=branch.kiosk)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["kind"] == "ticket", doc
    return doc["ticket"]


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this suite's own (see counterflow_testkit.topic_prefix)."""
    yield from fresh_topic_prefix(infrastructure)
