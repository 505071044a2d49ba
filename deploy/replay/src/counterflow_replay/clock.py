"""The replay's virtual clock: discrete-event simulated time for the driver's agents.

The services take every domain "now" from a simulated clock held in one Redis key
(``CF_CLOCK=redis``, :mod:`counterflow_shared.clock`); this module moves it. The driver's
actors (customers, tellers, devices) are asyncio tasks started with
:meth:`VirtualClock.spawn`. An agent *parks* when it sleeps (:meth:`~VirtualClock.sleep`,
:meth:`~VirtualClock.until`) or waits for a :class:`SimEvent` with a simulated timeout
(:meth:`~VirtualClock.wait`). Only when **every** agent is parked (no HTTP call in flight)
does the clock advance, to the earliest wake-up: it writes the new instant to Redis and
wakes the agents due then. A request's real latency therefore costs zero simulated time:
the services see the instant the agent acted at, whatever the machine's load.

Wall pacing (``speed``, simulated seconds per wall second, ``None`` = as fast as
possible): the clock never reaches simulated second ``t`` before ``t / speed`` wall
seconds after it started. It is an upper bound on the pace, not a mapping: a loaded
machine runs slower and no wait grows. It gives Kafka-propagated state (device
availability, branch load, drafts) wall time to arrive: while a change takes ``L`` wall
seconds to travel, at most ``L * speed`` simulated seconds pass (0.5 s at x120: one
simulated minute), so decisions taken that long after it see it at the latest; decisions
in between may still see the old state.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any


class ClockStuck(RuntimeError):
    """Every agent waits for an event nobody can set and no timer is pending."""


class _Waiter:
    __slots__ = ("fut", "wake_at", "done")

    def __init__(self, fut: asyncio.Future, wake_at: float | None) -> None:
        self.fut, self.wake_at, self.done = fut, wake_at, False


class SimEvent:
    """An event agents of a :class:`VirtualClock` wait for (the simulated-time
    counterpart of :class:`asyncio.Event`): :meth:`set` wakes the waiters at once, so the
    clock cannot advance between the set and the waiters' resumption."""

    def __init__(self, clock: "VirtualClock") -> None:
        self._clock = clock
        self._flag = False
        self._waiters: list[_Waiter] = []

    def is_set(self) -> bool:
        """Whether the event is set."""
        return self._flag

    def set(self) -> None:
        """Set the event and wake every waiter."""
        self._flag = True
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            self._clock._unpark(w, True)

    def clear(self) -> None:
        """Unset the event."""
        self._flag = False


class VirtualClock:
    """Discrete-event clock in simulated seconds after ``origin`` (an aware instant).

    Args:
        origin: the instant of simulated second 0.
        on_advance: awaited with the new instant before the agents due then wake (the
            replay writes it to the services' Redis clock key).
        speed: wall pacing, simulated seconds per wall second (``None``: no pacing).
        gate: awaited before every advance, after every agent parked (the replay's
            :class:`~counterflow_replay.backlog.LagGate`: the clock moves only once the
            services' consumers have caught up); ``None``: no gate.

    Raises:
        ValueError: a naive ``origin`` or ``speed <= 0``.
    """

    def __init__(self, origin: datetime, on_advance: Callable[[datetime], Awaitable[None]], speed: float | None = None, gate: Callable[[], Awaitable[None]] | None = None) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.origin, self.on_advance, self.speed, self.gate = origin, on_advance, speed, gate
        self._now = 0.0
        self._heap: list[tuple[float, int, _Waiter]] = []
        self._seq = itertools.count()
        self._active = 0  # agents started and not finished
        self._parked = 0  # of which parked
        self._idle = asyncio.Event()
        self._advancer: asyncio.Task | None = None
        self._wall0 = 0.0
        self.advances = 0

    # ------------------------------------------------------------------ reading
    def now(self) -> float:
        """Simulated seconds since ``origin``."""
        return self._now

    def instant(self, sim_s: float | None = None) -> datetime:
        """The aware instant of simulated second ``sim_s`` (default: now)."""
        return self.origin + timedelta(seconds=self._now if sim_s is None else sim_s)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Publish the origin instant and start advancing (call once, in a running loop)."""
        await self.on_advance(self.instant())
        self._wall0 = asyncio.get_running_loop().time()
        self._advancer = asyncio.create_task(self._advance_loop(), name="virtual-clock")

    @property
    def advancer(self) -> asyncio.Task:
        """The task that advances the clock; it fails with :class:`ClockStuck` (or the
        ``on_advance`` error) when the clock cannot go on.

        Raises:
            RuntimeError: before :meth:`start`.
        """
        if self._advancer is None:
            raise RuntimeError("clock not started")
        return self._advancer

    async def stop(self) -> None:
        """Stop advancing."""
        if self._advancer is not None:
            self._advancer.cancel()
            await asyncio.gather(self._advancer, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
        """Start ``coro`` as an agent: the clock waits for it whenever it is not parked."""
        self._active += 1
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._agent_done)
        return task

    def event(self) -> SimEvent:
        """A new :class:`SimEvent` of this clock."""
        return SimEvent(self)

    # ------------------------------------------------------------------ parking
    async def sleep(self, sim_s: float) -> None:
        """Park for ``sim_s`` simulated seconds (returns at once when ``<= 0``)."""
        if sim_s > 0:
            await self._park(self._now + sim_s).fut

    async def until(self, sim_t: float) -> None:
        """Park until simulated second ``sim_t`` (returns at once when it has passed)."""
        await self.sleep(sim_t - self._now)

    async def wait(self, event: SimEvent, timeout_s: float | None = None) -> bool:
        """Park until ``event`` is set (``True``) or ``timeout_s`` simulated seconds have
        passed (``False``); ``None`` waits without a timeout."""
        if event.is_set():
            return True
        if timeout_s is not None and timeout_s <= 0:
            return False
        w = self._park(None if timeout_s is None else self._now + timeout_s)
        event._waiters.append(w)
        return bool(await w.fut)

    def _park(self, wake_at: float | None) -> _Waiter:
        w = _Waiter(asyncio.get_running_loop().create_future(), wake_at)
        if wake_at is not None:
            heapq.heappush(self._heap, (wake_at, next(self._seq), w))
        self._parked += 1
        self._check_idle()
        return w

    def _unpark(self, w: _Waiter, value: bool) -> None:
        if w.done:
            return
        w.done = True
        self._parked -= 1
        if not w.fut.done():
            w.fut.set_result(value)

    def _agent_done(self, _task: asyncio.Task) -> None:
        self._active -= 1
        self._check_idle()

    def _check_idle(self) -> None:
        if self._active > 0 and self._parked >= self._active:
            self._idle.set()

    async def _advance_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._idle.wait()
            self._idle.clear()
            if self._active == 0 or self._parked < self._active:
                continue  # an agent woke (event) or finished meanwhile
            while self._heap and self._heap[0][2].done:
                heapq.heappop(self._heap)
            if not self._heap:
                raise ClockStuck(f"{self._active} agents wait for events and no timer is pending at simulated second {self._now:.0f}")
            t = self._heap[0][0]
            if self.gate is not None:
                await self.gate()
                if self._parked < self._active:
                    continue
            if self.speed is not None:
                await asyncio.sleep(max(0.0, self._wall0 + t / self.speed - loop.time()))
                if self._parked < self._active:
                    continue  # an agent woke meanwhile: re-check once it parks again
            if t > self._now:
                self._now = t
                self.advances += 1
                await self.on_advance(self.instant())
            while self._heap and self._heap[0][0] <= self._now:
                _, _, w = heapq.heappop(self._heap)
                self._unpark(w, False)
