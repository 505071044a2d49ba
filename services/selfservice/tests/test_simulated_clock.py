"""Selfservice obeys the simulated clock (``CF_CLOCK=redis``, ADR 0011): device report
times are checked against the simulated instant, a heartbeat is recorded at it (event
``time`` included), and the offline watchdog measures silence on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from counterflow_shared.clock import RedisClock, set_simulated_now
from counterflow_testkit import eventually, simulated_clock

from .conftest import HEARTBEAT_TIMEOUT_S, recycler, uid

STATE = "selfservice.device.state.v1"
T0 = datetime(1993, 12, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
async def simulated(app) -> AsyncIterator[RedisClock]:  # noqa: ANN001
    async with simulated_clock(app.state.runtime) as clock:
        yield clock


async def test_heartbeats_and_the_watchdog_follow_the_simulated_clock(client, staff, register, events, simulated):  # noqa: ANN001
    await set_simulated_now(simulated.redis, simulated.key, T0)
    device_id = uid("D")
    device = await register(recycler(device_id, uid("B")))
    # a device clock on real time is decades in the future of the simulated day
    r = await device.heartbeat(counts={"C1": 100})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.sent_at"
    ok = await device.heartbeat(counts={"C1": 100}, sent_at=T0.isoformat())
    assert ok.status_code == 200 and ok.json()["status"] == "online"
    r = await client.get(f"/v1/devices/{device_id}", headers=staff)
    assert datetime.fromisoformat(r.json()["last_heartbeat_at"]) == T0
    online = await eventually(lambda: _async([e for e in events.of(STATE, device_id) if e.data["status"] == "online"]), what="online event")
    assert online[0].time == T0

    # silence is measured on the simulated clock: past the timeout, the watchdog acts
    silent = T0 + timedelta(seconds=HEARTBEAT_TIMEOUT_S + 60)
    await set_simulated_now(simulated.redis, simulated.key, silent)
    offline = await eventually(lambda: _async([e for e in events.of(STATE, device_id) if e.data["status"] == "offline" and e.time > T0]), what="offline event")
    assert offline[0].time == silent


async def _async(value):  # noqa: ANN001, ANN202
    return value
