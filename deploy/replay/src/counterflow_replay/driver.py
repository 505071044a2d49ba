"""One scenario of the replay day, driven in simulated time through the running services.

Actors (asyncio tasks):

- a **customer** per visit: at its arrival moment asks the kiosk for its service; if
  offered another channel, accepts when its uniform ``accept_u`` is below its propensity
  for that channel (scoring's calibrated probability, in ``rules`` and ``offer_all``
  alike; always in the ``oracle`` scenario),
  else declines and takes the ticket; an accepted device offer is done at the device
  (reported through selfservice's device API) after :data:`WALK_TO_DEVICE_S`, an
  accepted app hand-off is completed in the app (mobile-gateway drafts); a ticket holder
  leaves (kiosk cancel) when its patience runs out before it is called;
- a **teller** per counter: opens a session, presses "call next" when the branch's queue
  holds a ticket no other teller is already calling (as a teller reads the queue display),
  starts, serves for ``work_s * speed`` simulated seconds, finishes;
- the **devices** of every branch: a heartbeat every :data:`HEARTBEAT_S` simulated
  seconds (the replay's devices never fail).

Every actor is an agent of a :class:`~counterflow_replay.clock.VirtualClock`: time passes
only while all of them are parked, so a request's real latency costs no simulated time,
and the services (``CF_CLOCK=redis``) see the very instant the actor acted at.

Each visit ends in exactly one of ``served``, ``diverted_completed``,
``diverted_expired`` (accepted, then not completed: the device refused or the app draft
expired) or ``abandoned``; a visit the platform could not handle ends ``error`` with the
problem, which fails the run.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from counterflow_replay.berka import CURRENCY
from counterflow_replay.clock import SimEvent, VirtualClock
from counterflow_replay.platform import Platform, PlatformError
from counterflow_replay.setup import DENOMINATIONS, heartbeat_round
from counterflow_replay.traffic import Day, Teller, Visit

#: Simulated seconds from accepting an offer to starting at the device (walking across the
#: lobby; an assumption, small against every wait).
WALK_TO_DEVICE_S = 30.0
#: Propensity key of scoring for each offered channel.
PROPENSITY_OF_CHANNEL = {"atm": "self_service", "cash_recycler": "self_service", "kiosk": "self_service", "mobile": "mobile", "online": "mobile", "appointment": "appointment"}
#: Device transaction kind of each service type.
DEVICE_KIND = {"cash_withdrawal": "withdrawal", "cash_deposit": "deposit", "bill_payment": "bill_payment"}
#: Wall seconds a teller waits for the customer of a called ticket to be known while a
#: kiosk request of the branch is in flight (its answer can reach the customer after the
#: ticket was called). A ticket unknown while no kiosk request of the branch is in flight
#: was left over by an interrupted run and is served at once (waiting 60 wall seconds for
#: each of them cost a run on the databases of an interrupted one 9 minutes in 15).
OWNER_WAIT_WALL_S = 60.0
#: Wall seconds a scenario may take per visit before it is declared stuck (on top of
#: 900 s): a visit needs about four sequential requests, 1-2 wall seconds on the loaded
#: 2-core machine of 2026-12-01. Without it an unpaced default day (1,117 visits) failed
#: after a flat 900 wall seconds, whatever its progress.
WALL_S_PER_VISIT = 5.0
ENDS = ("served", "diverted_completed", "diverted_expired", "abandoned")
#: Simulated seconds between two "call next" presses of an idle teller who sees no
#: ticket of the replay waiting (a safety net for tickets the replay did not issue, e.g.
#: left over by an interrupted run). An idle teller is otherwise woken by every new
#: ticket of the branch and presses only while the queue holds more tickets than tellers
#: already calling: one press per ticket instead of one per idle teller and minute (that
#: was ten "call next" requests per arrival, 60 % of ticketing's requests, in the
#: 2026-12-01 default-day run).
IDLE_RECHECK_S = 1800.0
#: Simulated seconds between two heartbeats of a replay device; the replay starts
#: selfservice with a heartbeat timeout of :data:`HEARTBEAT_TIMEOUT_S` (real devices beat
#: every 30 s with a 90 s timeout: a modelling choice that spares ~20,000 requests a
#: scenario for devices that never fail in the replay).
HEARTBEAT_S = 3600.0
HEARTBEAT_TIMEOUT_S = 3 * HEARTBEAT_S
#: Simulated seconds a customer keeps looking for its hand-off draft in the app, and
#: between two looks.
APP_PATIENCE_S = 1800.0
APP_POLL_S = 60.0


@dataclass
class Outcome:
    """What happened to one visit in one scenario (moments in simulated seconds after
    opening; ``None`` when it did not happen)."""

    visit: Visit
    ticket_id: str | None = None
    diversion_id: str | None = None
    channel: str | None = None
    offered: bool = False
    accepted: bool = False
    issued_s: float | None = None
    called_s: float | None = None
    finished_s: float | None = None
    left_s: float | None = None
    estimate_s: float | None = None
    naive_estimate_s: float | None = None
    teller_id: str | None = None
    end: str | None = None
    note: str | None = None
    called: SimEvent | None = field(default=None, repr=False)
    done: SimEvent | None = field(default=None, repr=False)

    @property
    def wait_s(self) -> float | None:
        """Simulated wait from ticket to call (``None`` when never called)."""
        return None if self.called_s is None or self.issued_s is None else self.called_s - self.issued_s


@dataclass
class ScenarioLog:
    """The outcomes of one scenario plus the teller time it used; ``origin`` is the
    aware instant of simulated second 0 (the branches' opening), ``clock_advances`` how
    many times the virtual clock moved."""

    scenario: str
    outcomes: list[Outcome]
    busy_s: dict[str, float]
    tellers: dict[str, int]
    end_s: float
    wall_s: float
    http_calls: int
    origin: datetime
    clock_advances: int
    ruleset_version: int | None = None


def device_notes(amount: Decimal) -> tuple[Decimal, list[tuple[str, int]]]:
    """The part of ``amount`` (CZK) that notes carry, rounded down to 100 CZK, and its notes
    largest first (cassette ids ``u<denomination>``)."""
    left = (amount // 100) * 100
    total, notes = left, []
    for d in sorted(DENOMINATIONS, reverse=True):
        n = int(left // d)
        if n:
            notes.append((f"u{int(d)}", n))
            left -= d * n
    return total, notes


class Scenario:
    """Run one scenario of ``day`` against ``platform`` on ``clock`` (not yet started)."""

    def __init__(self, name: str, day: Day, platform: Platform, clock: VirtualClock, profiles: dict[str, dict[str, Any]], run_id: str, on_end: Callable[[Outcome], None] | None = None, gate: Any = None) -> None:
        self.name, self.day, self.p, self.clock, self.profiles, self.run_id = name, day, platform, clock, profiles, run_id
        self.gate = gate  # a LagGate to mark dirty after requests that publish decision state
        self.outcomes = [Outcome(v, called=clock.event(), done=clock.event()) for v in day.visits]
        self.by_ticket: dict[str, Outcome] = {}
        self.wake = {b: clock.event() for b in day.branches}
        self.stop = clock.event()
        self.last_wait = {b: 0.0 for b in day.branches}
        #: tickets of the replay's customers waiting in each branch's queue (issued, not
        #: yet called or cancelled) and tellers of the branch pressing "call next" now
        self.waiting = {b: 0 for b in day.branches}
        self.calling = {b: 0 for b in day.branches}
        self._queued: set[str] = set()
        #: kiosk requests of each branch in flight (whose answer may be a ticket)
        self.asking = {b: 0 for b in day.branches}
        self.busy = {b: 0.0 for b in day.branches}
        self.stopping = False
        self.on_end = on_end
        self.errors: list[str] = []

    def _end(self, o: Outcome, end: str, note: str | None = None) -> None:
        if o.end is None:
            o.end, o.note = end, note
            o.left_s = o.left_s if o.left_s is not None else self.clock.now()
            o.done.set()  # type: ignore[union-attr]
            if self.on_end:
                self.on_end(o)

    def _published(self) -> None:
        """A request that publishes decision state returned: the clock's lag gate looks
        before the next advance."""
        if self.gate is not None:
            self.gate.dirty = True

    # ------------------------------------------------------------------ customers
    async def customer(self, o: Outcome) -> None:
        v = o.visit
        await self.clock.until(v.arrival_s)
        try:
            body: dict[str, Any] = {"service_type": v.service_type, "customer_id": v.customer_id}
            if v.divertible:
                body |= {"amount": v.amount, "currency": CURRENCY}
            if v.needs:
                body["needs"] = list(v.needs)
            asked_at = self.clock.now()
            answer = await self._asking(v.branch_id, self.p.request_service(v.branch_id, body))
            if answer["kind"] == "offer":
                self._published()
                answer = await self._offer(o, answer["offer"])  # a decline sets issued_s
                if answer is None:
                    return
            else:
                o.issued_s = asked_at  # only a ticket holder waits in the queue
            await self._queue(o, answer["ticket"])
        except PlatformError as exc:
            self.errors.append(f"{v.visit_id}: {exc}")
            self._end(o, "error", str(exc))

    async def _offer(self, o: Outcome, offer: dict[str, Any]) -> dict[str, Any] | None:
        v = o.visit
        o.offered, o.diversion_id, o.channel = True, offer["diversion_id"], offer["channel"]
        key = PROPENSITY_OF_CHANNEL.get(offer["channel"], offer["channel"])
        p = 1.0 if self.name == "oracle" else float(self.profiles.get(v.customer_id, {}).get("propensity", {}).get(key, 0.0))
        if v.accept_u >= p:
            o.issued_s = self.clock.now()
            declined = await self._asking(v.branch_id, self.p.decide_offer(v.branch_id, o.diversion_id, accept=False))
            self._published()
            return declined
        await self.p.decide_offer(v.branch_id, o.diversion_id, accept=True)
        self._published()
        o.accepted = True
        if offer.get("device_id"):
            await self._at_device(o, offer["device_id"])
        else:
            await self._in_app(o)
        return None

    async def _at_device(self, o: Outcome, device_id: str) -> None:
        v = o.visit
        await self.clock.sleep(WALK_TO_DEVICE_S)
        amount, notes = device_notes(Decimal(v.amount))
        kind = DEVICE_KIND[v.service_type]
        if kind != "bill_payment" and amount <= 0:
            self._end(o, "diverted_expired", "amount below the smallest note")
            return
        tx: dict[str, Any] = {"transaction_id": f"{self.run_id}-{self.name}-{v.visit_id}", "kind": kind, "amount": str(amount), "currency": CURRENCY, "customer_id": v.customer_id, "diversion_id": o.diversion_id, "occurred_at": self.clock.instant().isoformat()}
        if kind == "deposit":
            tx["notes"] = [{"unit_id": u, "count": n} for u, n in notes]
        r = await self.p.device(device_id, "transactions", tx, ok=(200, 201, 409, 422))
        self._published()
        if r.status_code in (200, 201):
            self._end(o, "diverted_completed")
        else:
            self._end(o, "diverted_expired", f"device refused: {r.json().get('detail', r.status_code)}")

    async def _in_app(self, o: Outcome) -> None:
        v = o.visit
        deadline = self.clock.now() + APP_PATIENCE_S
        while self.clock.now() < deadline:
            headers = await self.p.customer_headers(v.customer_id)
            r = await self.p.call("GET", f"{self.p.endpoints.mobile}/v1/drafts", headers=headers, ok=(200, 401))
            if r.status_code == 401:
                self.p.forget_customer(v.customer_id)
                continue
            draft = next((d for d in r.json() if d["diversion_id"] == o.diversion_id), None)
            if draft is not None:
                c = await self.p.call("POST", f"{self.p.endpoints.mobile}/v1/drafts/{draft['draft_id']}/complete", json={}, headers=headers, ok=(200, 409))
                self._published()
                self._end(o, "diverted_completed" if c.status_code == 200 else "diverted_expired", None if c.status_code == 200 else c.json().get("detail"))
                return
            await self.clock.sleep(APP_POLL_S)
        self._end(o, "diverted_expired", "no draft reached the app")

    async def _queue(self, o: Outcome, ticket: dict[str, Any]) -> None:
        v = o.visit
        o.ticket_id = ticket["ticket_id"]
        est = ticket.get("estimated_wait_s")
        o.estimate_s = None if est is None else float(est)
        o.naive_estimate_s = self.last_wait[v.branch_id]
        self.by_ticket[o.ticket_id] = o
        self.waiting[v.branch_id] += 1
        self._queued.add(o.ticket_id)
        self.wake[v.branch_id].set()
        patience_left = v.patience_s - (self.clock.now() - v.arrival_s)
        called = await self.clock.wait(o.called, max(0.0, patience_left))  # type: ignore[arg-type]
        if not called and await self.p.cancel_ticket(v.branch_id, o.ticket_id) and not o.called.is_set():  # type: ignore[union-attr]
            self._dequeued(o)
            self._end(o, "abandoned")
            return
        await self.clock.wait(o.done)  # type: ignore[arg-type]

    async def _asking(self, branch_id: str, request: Any) -> Any:
        """Await a kiosk request of ``branch_id`` whose answer may be a ticket, counted in
        :attr:`asking` while in flight."""
        self.asking[branch_id] += 1
        try:
            return await request
        finally:
            self.asking[branch_id] -= 1

    def _dequeued(self, o: Outcome) -> None:
        """``o``'s ticket left the queue (called or cancelled); counted once."""
        if o.ticket_id in self._queued:
            self._queued.discard(o.ticket_id)
            self.waiting[o.visit.branch_id] -= 1

    # ------------------------------------------------------------------ tellers
    async def teller(self, t: Teller) -> None:
        await self.p.teller(t, "session/close", ok=(200, 404, 409, 422))
        opened = await self.p.teller(t, "session/open", ok=(200, 201, 409))
        if opened.status_code == 409 and t.teller_id not in opened.text:  # our own session may survive an interrupted run
            raise PlatformError(f"counter {t.counter_id} is occupied: {opened.text[:300]}")
        b = t.branch_id
        wake = self.wake[b]
        look = True  # the first press, and one after each idle recheck, look for any ticket
        try:
            while not self.stopping:
                wake.clear()
                if not look and self.waiting[b] <= self.calling[b]:  # nobody for this teller
                    look = not await self.clock.wait(wake, IDLE_RECHECK_S)
                    continue
                pressed = self.clock.now()
                self.calling[b] += 1
                try:
                    r = await self.p.teller(t, "call-next")
                finally:
                    self.calling[b] -= 1
                ticket = r.json().get("ticket")
                if ticket is None:
                    look = not await self.clock.wait(wake, IDLE_RECHECK_S)
                    continue
                look = not await self._serve(t, ticket["ticket_id"], pressed)  # after a leftover, look again
        finally:
            await self.p.teller(t, "session/close", ok=(200, 404, 409, 422))

    async def _serve(self, t: Teller, ticket_id: str, pressed: float) -> bool:
        """Serve a called ticket; the call happened when the teller pressed "call next"
        (``pressed``), so the request's round trip does not count as the customer's wait.
        Returns whether the ticket was one of this run's customers (``False``: a leftover
        of an interrupted run, closed at once)."""
        o = self.by_ticket.get(ticket_id)
        deadline = asyncio.get_running_loop().time() + OWNER_WAIT_WALL_S
        while o is None and self.asking[t.branch_id] > 0 and asyncio.get_running_loop().time() < deadline:  # the kiosk answer may still be on its way
            await asyncio.sleep(0.02)
            o = self.by_ticket.get(ticket_id)
        now = self.clock.now()
        if o is None:  # not of this run (left over by an interrupted run): serve it at once
            await self.p.teller(t, f"tickets/{ticket_id}/start", ok=(200, 409))
            await self.p.teller(t, f"tickets/{ticket_id}/finish", {"outcome": "completed"}, ok=(200, 409))
            return False
        o.called_s, o.teller_id = max(pressed, o.issued_s or pressed), t.teller_id
        self._dequeued(o)
        o.called.set()  # type: ignore[union-attr]
        if self.waiting[t.branch_id] > self.calling[t.branch_id]:
            self.wake[t.branch_id].set()  # another idle teller may call the next one
        self.last_wait[t.branch_id] = o.wait_s or 0.0
        r = await self.p.teller(t, f"tickets/{ticket_id}/start", ok=(200, 409))
        if r.status_code == 409:  # the customer cancelled just as the call went out
            o.called_s = None
            self._end(o, "abandoned", "left as called")
            return True
        service = o.visit.work_s * t.speed
        await self.clock.sleep(service)
        await self.p.teller(t, f"tickets/{ticket_id}/finish", {"outcome": "completed"})
        o.finished_s = self.clock.now()
        self.busy[t.branch_id] += o.finished_s - now
        self._end(o, "served")
        return True

    # ------------------------------------------------------------------ devices
    async def devices(self) -> None:
        """Heartbeats of every device every :data:`HEARTBEAT_S` simulated seconds until
        the scenario stops."""
        while not self.stop.is_set():
            await heartbeat_round(self.p, self.day, self.clock.instant())
            await self.clock.wait(self.stop, HEARTBEAT_S)

    # ------------------------------------------------------------------ the day
    async def run(self, wall_limit_s: float | None = None) -> ScenarioLog:
        """Start the clock, run every actor until every visit has ended, stop the tellers.

        ``wall_limit_s`` bounds the wall time (default: three times the paced day plus
        :data:`WALL_S_PER_VISIT` per visit plus
        15 minutes).

        Raises:
            PlatformError: a teller failed, a visit is unfinished at the wall limit, or
                the clock got stuck (every actor waiting for something nobody will do).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        calls0 = self.p.calls
        await self.clock.start()
        tellers = [self.clock.spawn(self.teller(t), name=t.teller_id) for b in self.day.branches for t in self.day.tellers[b]]
        devices = self.clock.spawn(self.devices(), name="devices")
        customers = asyncio.gather(*(self.clock.spawn(self.customer(o), name=o.visit.visit_id) for o in self.outcomes))
        customers.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no "never retrieved" noise
        advancer = self.clock.advancer
        try:
            limit = wall_limit_s if wall_limit_s is not None else (3 * self.day.day_s / self.clock.speed if self.clock.speed else 0.0) + 900.0 + WALL_S_PER_VISIT * len(self.outcomes)
            deadline = loop.time() + limit
            while not customers.done():  # until every customer is done, or a teller or the clock fails
                left = deadline - loop.time()
                if left <= 0:
                    customers.cancel()
                    stuck = [o.visit.visit_id for o in self.outcomes if o.end is None]
                    raise PlatformError(f"scenario {self.name} did not end within {limit:.0f} wall seconds; {len(stuck)} visits unfinished, e.g. {stuck[:5]}")
                await asyncio.wait([customers, advancer, devices, *tellers], return_when=asyncio.FIRST_COMPLETED, timeout=left)
                if advancer.done():
                    customers.cancel()
                    raise PlatformError(f"the simulated clock stopped in scenario {self.name}: {advancer.exception()!r}")
                failed = [t for t in [*tellers, devices] if t.done() and not t.cancelled() and t.exception() is not None]
                if failed:  # a teller or device that cannot work fails the scenario at once
                    customers.cancel()
                    raise PlatformError(f"an actor failed in scenario {self.name}: {failed[0].exception()}")
            await customers
        finally:
            self.stopping = True
            self.stop.set()
            for e in self.wake.values():
                e.set()
            if advancer.done():  # nobody will wake a parked actor any more
                for t in [*tellers, devices]:
                    t.cancel()
            results = await asyncio.gather(*tellers, devices, return_exceptions=True)
            await self.clock.stop()
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise PlatformError(f"an actor failed in scenario {self.name}: {failures[0]}")
        end = max([self.day.day_s] + [o.left_s or 0.0 for o in self.outcomes])
        return ScenarioLog(
            self.name,
            self.outcomes,
            self.busy,
            {b: len(self.day.tellers[b]) for b in self.day.branches},
            end,
            loop.time() - started,
            self.p.calls - calls0,
            self.clock.origin,
            self.clock.advances,
        )


def percentile(xs: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1, linear interpolation) of ``xs``; ``None`` when empty."""
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
