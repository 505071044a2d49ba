"""The replay's tellers press "call next" once per waiting ticket, not once per idle teller
and minute, and the waits they measure are those of a first-come-first-served queue.

The platform here is a first-come-first-served ticket queue in memory (the driver's logic
is under test, not ticketing: ``tests/e2e/test_replay.py`` runs the real services)."""

from __future__ import annotations

import time
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

from counterflow_replay.clock import VirtualClock
from counterflow_replay.driver import Scenario
from counterflow_replay.staffing import staff_branch
from counterflow_replay.traffic import Day, Teller, Visit

ORIGIN = datetime(1993, 12, 1, 7, 0, tzinfo=UTC)


class Answer:
    """The part of an httpx response the driver reads."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code, self.body, self.text = status_code, body, str(body)

    def json(self) -> dict[str, Any]:
        return self.body


class QueuePlatform:
    """Kiosk, counters and devices of a FIFO queue per branch; counts the requests."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.queues: dict[str, deque[str]] = {}
        self.requests: Counter[str] = Counter()
        self.presses: list[float] = []  # simulated instants of the "call next" presses
        self.calls = 0
        self.n = 0

    async def request_service(self, branch_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.requests["service-request"] += 1
        self.n += 1
        ticket_id = f"T{self.n}"
        self.queues.setdefault(branch_id, deque()).append(ticket_id)
        return {"kind": "ticket", "ticket": {"ticket_id": ticket_id, "estimated_wait_s": None}}

    async def cancel_ticket(self, branch_id: str, ticket_id: str) -> bool:
        self.requests["cancel"] += 1
        q = self.queues.get(branch_id, deque())
        if ticket_id in q:
            q.remove(ticket_id)
            return True
        return False

    async def teller(self, teller: Teller, action: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201)) -> Answer:
        self.requests[action.split("/")[-1]] += 1
        if action == "call-next":
            self.presses.append(self.clock.now())
            q = self.queues.get(teller.branch_id, deque())
            return Answer(200, {"ticket": {"ticket_id": q.popleft()} if q else None})
        return Answer(200, {})

    async def device(self, device_id: str, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200, 201)) -> Answer:
        self.requests[path] += 1
        return Answer(200, {})


def day_of(arrivals: list[tuple[float, float, float]], tellers: int) -> Day:
    """One branch; ``arrivals`` are ``(arrival_s, work_s, patience_s)``."""
    visits = [Visit(f"v{i}", "D1", f"C{i}", "account_opening", "0", a, w, p, 0.5, 0.5) for i, (a, w, p) in enumerate(arrivals)]
    staffing = staff_branch("D1", len(visits), sum(w for _, w, _ in arrivals), 3600.0, 0.1, 900.0, tellers=tellers)
    return Day(visits, {"D1": [Teller(f"D1-T{k}", "D1", f"D1-C{k}", 1.0) for k in range(tellers)]}, {"D1": staffing}, 3600.0, (ORIGIN.date(), ORIGIN.date()))


async def run(day: Day, leftovers: tuple[str, ...] = ()) -> tuple[Scenario, QueuePlatform]:
    async def tick(_at: datetime) -> None:
        return None

    clock = VirtualClock(ORIGIN, tick)
    platform = QueuePlatform(clock)
    platform.queues["D1"] = deque(leftovers)
    scenario = Scenario("no_diversion", day, platform, clock, {}, "run")  # type: ignore[arg-type]
    await scenario.run(wall_limit_s=60.0)
    return scenario, platform


async def test_four_idle_tellers_call_each_ticket_with_one_press():
    # ten customers, two minutes apart, each served in a minute: four tellers mostly idle
    day = day_of([(120.0 * i, 60.0, 3600.0) for i in range(1, 11)], tellers=4)
    scenario, platform = await run(day)
    assert [o.end for o in scenario.outcomes] == ["served"] * 10
    assert [o.wait_s for o in scenario.outcomes] == [0.0] * 10
    # until the last customer left: each teller's first look, then one press per ticket
    # (idle tellers pressing every minute, all four on every new ticket, pressed over 100
    # times here); the clock may run on to idle rechecks before the scenario stops
    last = max(o.left_s for o in scenario.outcomes)
    assert sum(t <= last for t in platform.presses) == 4 + 10


async def test_a_busy_teller_serves_first_come_first_served_and_the_impatient_leave():
    # one teller; three customers at once, 300 s each; the third leaves after 400 s
    day = day_of([(10.0, 300.0, 3600.0), (10.0, 300.0, 3600.0), (10.0, 300.0, 400.0)], tellers=1)
    scenario, platform = await run(day)
    assert [o.end for o in scenario.outcomes] == ["served", "served", "abandoned"]
    assert [o.wait_s for o in scenario.outcomes[:2]] == [0.0, 300.0]
    assert scenario.outcomes[2].left_s == 410.0
    assert platform.requests["cancel"] == 1
    # the first look, two calls, and no press for the cancelled ticket
    assert sum(t <= 600.0 for t in platform.presses) == 1 + 2
    assert scenario.waiting == {"D1": 0}


async def test_tickets_left_by_an_interrupted_run_are_closed_at_once():
    # two tickets of an earlier run wait ahead of the day's only customer
    day = day_of([(100.0, 60.0, 3600.0)], tellers=1)
    started = time.monotonic()
    scenario, platform = await run(day, leftovers=("OLD1", "OLD2"))
    # no kiosk request was in flight when they were called: no wall wait for an owner
    # (60 s each before)
    assert time.monotonic() - started < 30.0
    assert platform.requests["start"] == 3 and platform.requests["finish"] == 3
    assert scenario.outcomes[0].end == "served" and scenario.outcomes[0].wait_s == 0.0
