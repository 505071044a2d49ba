"""The kiosk request's round-trip budget (issue 15): at most two PostgreSQL round trips
(one read, one write, no BEGIN / COMMIT, no pre-ping) and one Redis round trip, for every
request shape. Counted through the drivers' hooks (:mod:`counterflow_shared.roundtrips`),
not timed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, literal_column, select

from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_shared.roundtrips import RoundTrips
from counterflow_shared.roundtrips import counting as count_round_trips
from counterflow_shared.rules import Decision
from counterflow_ticketing.domain import intake
from counterflow_ticketing.domain.context import readmodels_of
from counterflow_ticketing.persistence.rules_tables import rule_decisions
from counterflow_ticketing.persistence.tables import backbone

from .conftest import Branch, Service, make_branch

PG_BUDGET, REDIS_BUDGET = 2, 1


Counts = RoundTrips


def counting(service: Service, _monkeypatch: pytest.MonkeyPatch) -> Any:
    """Count the round trips of work done in this test's context (not the app's loops)."""
    return count_round_trips(service.runtime.engine)


async def _request(service: Service, branch: Branch, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    r = await service.client.post("/v1/kiosk/service-requests", json=body, headers={**branch.kiosk, **(headers or {})})
    assert r.status_code == 201, r.text
    return r


async def _measure(service: Service, branch: Branch, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[Counts, Any]:
    """The steady-state cost of one request: earlier requests may land on pooled
    connections that have not prepared the two statements yet (one extra round trip per
    statement, once per connection); the first request that prepares nothing is the one
    measured (the others' tickets are real and counted in the numbers)."""
    await _request(service, branch, body)  # warm: kiosk credentials, rule set compiled
    for _ in range(20):
        with counting(service, monkeypatch) as counts:
            r = await _request(service, branch, body, headers)
        if not counts.prepares:
            return counts, r
        headers = {**(headers or {}), "Idempotency-Key": uuid.uuid4().hex} if headers and "Idempotency-Key" in headers else headers
    raise AssertionError(f"every request prepared statements again: {counts.prepares} prepares")


def _assert_budget(counts: Counts, shape: str) -> None:
    print(f"{shape}: postgres={counts.postgres} (prepares {counts.prepares}) redis={counts.redis} statements={counts.statements}")
    assert counts.postgres <= PG_BUDGET, f"{shape}: {counts.postgres} PostgreSQL round trips ({counts.statements})"
    assert counts.redis <= REDIS_BUDGET, f"{shape}: {counts.redis} Redis round trips"
    assert "BEGIN" not in counts.statements and "COMMIT" not in counts.statements


async def test_counting_sees_a_transaction(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter is not blind: an ordinary session transaction with one query is three
    round trips (BEGIN, the query, COMMIT), plus one to prepare a statement the connection
    has not seen before (so 4 + 3 for the same transaction twice), and a Redis command is one."""
    fresh = select(literal_column(str(uuid.uuid4().int % 1_000_000_007)))  # a statement no connection has prepared
    with counting(service, monkeypatch) as counts:
        async with service.runtime.engine.connect() as conn:
            for _ in range(2):
                async with conn.begin():
                    await conn.execute(fresh)
        await service.runtime.redis.ping()
    print(f"calibration: postgres={counts.postgres} (prepares {counts.prepares}) redis={counts.redis} statements={counts.statements}")
    assert (counts.postgres, counts.prepares, counts.redis) == (4 + 3, 1, 1)


async def test_walk_in_customer_and_idempotency_key_stay_within_budget(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    branch = await make_branch(service)
    counts, r = await _measure(service, branch, monkeypatch, {"service_type": "cash_withdrawal"})
    _assert_budget(counts, "walk-in")
    ticket = r.json()["ticket"]
    assert ticket["number"] == f"A{ticket['position']:03d}"  # every earlier ticket of the queue is still waiting

    counts, r = await _measure(service, branch, monkeypatch, {"service_type": "transfer", "customer_id": f"c-{uuid.uuid4().hex[:6]}"})
    _assert_budget(counts, "customer")
    assert r.json()["ticket"]["number"].startswith("B")

    counts, first = await _measure(service, branch, monkeypatch, {"service_type": "transfer"}, {"Idempotency-Key": uuid.uuid4().hex})
    _assert_budget(counts, "Idempotency-Key")
    key = {"Idempotency-Key": first.request.headers["Idempotency-Key"]}
    with counting(service, monkeypatch) as counts:
        replay = await _request(service, branch, {"service_type": "transfer"}, key)
    assert counts.postgres <= 1 and counts.redis <= REDIS_BUDGET, (counts.postgres, counts.redis)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == first.json()


async def test_branch_with_devices_and_a_routed_ticket_stay_within_budget(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    branch = await make_branch(service, counters=[["cash", "payments"]])
    device = DeviceState(
        device_id=f"atm-{uuid.uuid4().hex[:6]}", branch_id=branch.branch_id, kind="atm", status="online", available_service_types=["cash_withdrawal"],
        cash_available={"CZK": "100000"}, capabilities={"service_types": ["cash_withdrawal"], "max_amount": {"CZK": "20000"}}, zone="cash", at=datetime.now(UTC),
    )  # fmt: skip
    await readmodels_of(service.runtime).put_device(device)
    seen = []

    def routed(rule_set: Any, request: Any) -> Decision:
        seen.append(request)
        return Decision(kind="ticket", rule_set_version=4, rule_id="vip", route_to="vip_room", priority_boost=2, explanation="VIP")

    monkeypatch.setattr(intake, "decide", routed)
    counts, r = await _measure(service, branch, monkeypatch, {"service_type": "cash_withdrawal"})
    _assert_budget(counts, "devices + routed")
    assert [d.device_id for d in seen[-1].devices] == [device.device_id]
    doc = r.json()
    assert doc["route_to"] == "vip_room" and doc["route_fallback"] is True and doc["ticket"]["priority"] == 2


async def test_an_offer_stays_within_budget_and_commits_its_event(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    branch = await make_branch(service)

    def offer(rule_set: Any, request: Any) -> Decision:
        return Decision(kind="offer", rule_set_version=5, rule_id="to-atm", channel="atm", device_id="atm-9", explanation="ATM free")

    monkeypatch.setattr(intake, "decide", offer)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    counts, r = await _measure(service, branch, monkeypatch, {"service_type": "cash_withdrawal", "amount": "500.00", "currency": "CZK"}, key)
    _assert_budget(counts, "offer")
    diversion_id = r.json()["offer"]["diversion_id"]
    outbox = backbone["outbox"]
    async with service.runtime.sessions() as s:
        values = (await s.execute(select(outbox.c.value).where(outbox.c.headers["ce_type"].as_string() == "channel.diversion.offered.v1"))).scalars().all()
        decisions = (await s.execute(select(func.count()).select_from(rule_decisions).where(rule_decisions.c.diversion_id == diversion_id))).scalar_one()
    events = [json.loads(v)["data"] for v in values if json.loads(v)["data"]["diversion_id"] == diversion_id]
    assert len(events) == 1 and events[0]["amount"] == "500.00" and decisions == 1
