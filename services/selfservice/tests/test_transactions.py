"""Transactions at devices: atomic cash unit counts under concurrency, refusals,
replays, deposits, and the events they publish (real PostgreSQL and Kafka)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from counterflow_testkit import eventually, retry_busy

from .conftest import recycler, uid

DONE = "selfservice.transaction.done.v1"


async def test_fifty_concurrent_withdrawals_from_forty_notes_dispense_forty_and_refuse_ten(client, staff, register, events):
    device = await register(recycler(uid("D"), uid("B"), count=40, capacity=100, low=5, full=95))
    await device.heartbeat(counts={"C1": 40})
    ids = [uid("tx") for _ in range(50)]
    # a 503 (pool wait over 1 s on a loaded machine) applies nothing: the device retries the
    # same transaction id, as devices do; the assertion is about what was dispensed
    responses = await asyncio.gather(
        *(retry_busy(lambda i=i: device.transaction(transaction_id=i, kind="withdrawal", amount="100", currency="CZK")) for i in ids)
    )
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 40, 409: 10}, [r.text for r in responses if r.status_code not in (201, 409)]
    refused = [r for r in responses if r.status_code == 409]
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in refused)
    assert all(r.json()["type"].endswith("/insufficient-cash") for r in refused)
    state = (await client.get(f"/v1/devices/{device.device_id}", headers=staff)).json()
    assert state["cash_units"][0]["count"] == 0
    assert state["cash_units"][0]["status"] == "empty"
    assert "cash_withdrawal" not in state["available_service_types"]
    done = await eventually(lambda: _at_least(events.of(DONE, device.device_id), 50), what="50 transaction events")
    assert Counter(e.data["succeeded"] for e in done) == {True: 40, False: 10}
    recorded = (await client.get(f"/v1/devices/{device.device_id}/transactions", params={"limit": 100}, headers=staff)).json()
    assert Counter(t["succeeded"] for t in recorded) == {True: 40, False: 10}
    assert sum(t["notes"]["C1"] for t in recorded if t["succeeded"]) == 40


async def test_a_replayed_transaction_has_one_effect(client, staff, register):
    device = await register(recycler(uid("D"), uid("B"), count=10))
    await device.heartbeat(counts={"C1": 10})
    first = await device.transaction(transaction_id="tx-same", kind="withdrawal", amount="300", currency="CZK")
    again = await device.transaction(transaction_id="tx-same", kind="withdrawal", amount="300", currency="CZK")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["notes"] == {"C1": 3}
    state = (await client.get(f"/v1/devices/{device.device_id}", headers=staff)).json()
    assert state["cash_units"][0]["count"] == 7


async def test_withdrawal_mix_uses_large_notes_first_and_deposit_fills_units(client, staff, register):
    body = recycler(uid("D"), uid("B"))
    body["cash_units"] = [
        {"unit_id": "A", "currency": "CZK", "denomination": "1000", "capacity": 100, "low_threshold": 5, "full_threshold": 95, "count": 2},
        {"unit_id": "B", "currency": "CZK", "denomination": "200", "capacity": 100, "low_threshold": 5, "full_threshold": 95, "count": 50},
    ]
    device = await register(body)
    await device.heartbeat()
    r = await device.transaction(kind="withdrawal", amount="3400", currency="CZK")
    assert r.status_code == 201, r.text
    assert r.json()["notes"] == {"A": 2, "B": 7}
    r = await device.transaction(kind="deposit", amount="2000", currency="CZK", notes=[{"unit_id": "A", "count": 1}, {"unit_id": "B", "count": 5}])
    assert r.status_code == 201, r.text
    units = {u["unit_id"]: u["count"] for u in (await client.get(f"/v1/devices/{device.device_id}", headers=staff)).json()["cash_units"]}
    assert units == {"A": 1, "B": 48}


async def test_forecast_appears_from_withdrawal_history(client, staff, register, events):
    device = await register(recycler(uid("D"), uid("B"), count=150, capacity=200, low=5, full=195))
    await device.heartbeat()
    now = datetime.now(UTC)
    prague = ZoneInfo("Europe/Prague")
    today = now.astimezone(prague).date()
    # two withdrawals of 1,000 CZK at local noon on each of the last six days
    for day in range(1, 7):
        d = today - timedelta(days=day)
        for minute in (0, 1):
            at = datetime(d.year, d.month, d.day, 12, minute, tzinfo=prague).isoformat()
            r = await device.transaction(kind="withdrawal", amount="1000", currency="CZK", occurred_at=at)
            assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/device/replenishments", json={"cash_units": [{"unit_id": "C1", "count": 120}], "replenished_at": now.isoformat()}, headers=device.headers
    )
    assert r.status_code == 200, r.text
    state = (await client.get(f"/v1/devices/{device.device_id}", headers=staff)).json()
    # 12,000 CZK left, typical withdrawal 1,000 CZK, demand 2,000 CZK a day (flat: less
    # than two weeks of history): (12,000 - 1,000) / 2,000 = 5.5 days from now
    cash_out = datetime.fromisoformat(state["forecast_cash_out_at"])
    assert abs((cash_out - now).total_seconds() / 86400 - 5.5) < 0.05, cash_out
    await eventually(lambda: _async(any(e.data["forecast_cash_out_at"] for e in events.of("selfservice.device.state.v1", device.device_id))), what="forecast in an event")


async def _at_least(items, n):  # noqa: ANN001, ANN202
    return items if len(items) >= n else None


async def _async(value):  # noqa: ANN001, ANN202
    return value
