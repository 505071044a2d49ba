"""The accelerated simulated clock of the replay.

The services run on the real clock. The replay maps simulated seconds of the business
day onto wall seconds at ``speed`` (simulated seconds per wall second): at speed 120 a
nine-hour day takes 4.5 minutes. Every moment the replay drives (arrival, call, start,
finish, cancel, device transaction) is scheduled and recorded in simulated seconds after
opening; waits are measured on the replay side from those moments. Durations the
services use on their own (rule thresholds, SLA target, offer lifetime, default service
times) are divided by ``speed`` so the services see a consistent, accelerated world
(:mod:`counterflow_replay.timescale`).
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    """Simulated seconds after opening, advancing ``speed`` times faster than the wall.

    Raises:
        ValueError: ``speed <= 0``.
    """

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._origin) * self.speed

    def wall(self, sim_s: float) -> float:
        """Wall seconds that ``sim_s`` simulated seconds take."""
        return sim_s / self.speed

    async def sleep(self, sim_s: float) -> None:
        """Sleep ``sim_s`` simulated seconds."""
        if sim_s > 0:
            await asyncio.sleep(sim_s / self.speed)

    async def until(self, sim_t: float) -> None:
        """Sleep until simulated moment ``sim_t`` (returns at once when it has passed)."""
        await self.sleep(sim_t - self.now())
