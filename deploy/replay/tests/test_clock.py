"""The replay's virtual clock: time advances only while every agent is parked, a
request's real latency costs no simulated time, events wake waiters before the clock
moves, and wall pacing bounds the pace."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from counterflow_replay.clock import ClockStuck, VirtualClock

ORIGIN = datetime(1993, 12, 1, 7, 0, tzinfo=UTC)


def recording() -> tuple[list[datetime], VirtualClock]:
    seen: list[datetime] = []

    async def tick(at: datetime) -> None:
        seen.append(at)

    return seen, VirtualClock(ORIGIN, tick)


async def test_real_latency_costs_no_simulated_time_and_the_clock_jumps_to_the_next_wake_up():
    seen, clock = recording()
    await clock.start()
    log: list[tuple[str, float]] = []

    async def slow_caller() -> None:
        await clock.until(100.0)
        log.append(("request", clock.now()))
        await asyncio.sleep(0.3)  # a slow HTTP call: the agent is not parked
        log.append(("answer", clock.now()))
        await clock.sleep(50.0)
        log.append(("later", clock.now()))

    async def other() -> None:
        await clock.until(120.0)  # due during the slow call, but must wait for it
        log.append(("other", clock.now()))

    t0 = time.monotonic()
    await asyncio.gather(clock.spawn(slow_caller()), clock.spawn(other()))
    await clock.stop()
    assert log == [("request", 100.0), ("answer", 100.0), ("other", 120.0), ("later", 150.0)]
    assert [s.isoformat() for s in seen] == ["1993-12-01T07:00:00+00:00", "1993-12-01T07:01:40+00:00", "1993-12-01T07:02:00+00:00", "1993-12-01T07:02:30+00:00"]
    assert clock.advances == 3
    assert time.monotonic() - t0 < 2.0  # no pacing: 150 simulated seconds cost no wall time


async def test_an_event_wakes_its_waiter_before_the_clock_moves_and_a_timeout_is_simulated():
    _, clock = recording()
    await clock.start()
    called, never = clock.event(), clock.event()
    got: dict[str, tuple[bool, float]] = {}

    async def customer() -> None:
        got["called"] = (await clock.wait(called, 600.0), clock.now())
        got["gave_up"] = (await clock.wait(never, 300.0), clock.now())

    async def teller() -> None:
        await clock.sleep(42.0)
        called.set()
        await clock.sleep(1000.0)  # parks at once after the set: the customer must still see 42

    await asyncio.gather(clock.spawn(customer()), clock.spawn(teller()))
    await clock.stop()
    assert got == {"called": (True, 42.0), "gave_up": (False, 342.0)}


async def test_wall_pacing_bounds_the_pace():
    _, clock = recording()
    clock.speed = 100.0  # 100 simulated seconds per wall second
    await clock.start()
    t0 = time.monotonic()
    await clock.spawn(clock.sleep(50.0))
    assert time.monotonic() - t0 >= 0.45
    await clock.stop()


async def test_agents_waiting_for_nothing_stop_the_clock_with_a_clear_error():
    _, clock = recording()
    await clock.start()
    nobody = clock.event()
    agent = clock.spawn(clock.wait(nobody))
    with pytest.raises(ClockStuck, match="1 agents wait"):
        await asyncio.wait_for(clock.advancer, timeout=5)
    agent.cancel()


def test_a_naive_origin_or_a_non_positive_speed_is_refused():
    with pytest.raises(ValueError, match="aware"):
        VirtualClock(datetime(1993, 12, 1, 8), lambda _at: asyncio.sleep(0))
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(ORIGIN, lambda _at: asyncio.sleep(0), speed=0)
