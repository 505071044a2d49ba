"""Wait estimates from live state: the queue, the open counters, the learned service
times. The formula is :mod:`counterflow_ticketing.domain.estimation`'s; this module
gathers its inputs from the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.domain.estimation import LearnedTime, expected_wait_s, mean_service_s
from counterflow_ticketing.persistence import queue_state_repo


@dataclass(frozen=True)
class CounterPool:
    """Open counters of a branch at one instant (``counter_id``, ``skills``, ``teller_id``),
    the counters busy with a called or serving ticket, the learned service times and the
    waiting tickets per skill."""

    open_counters: Sequence[Any]
    busy: frozenset[str]
    learned: Mapping[tuple[str, str], LearnedTime]
    waiting_by_skill: Mapping[str, int]

    def able(self, skill: str) -> list[Any]:
        """Open counters whose skills include ``skill``."""
        return [c for c in self.open_counters if skill in (c.skills or [])]

    def estimate(self, *, skill: str, service_type: str, default_s: float, ahead: int, abandon_rate_per_s: float = 0.0) -> float | None:
        """Expected wait (seconds, ``None`` = unknown) of a ticket with ``ahead`` tickets before it."""
        able = self.able(skill)
        rates = [1.0 / mean_service_s(teller_id=c.teller_id, service_type=service_type, learned=self.learned, default_s=default_s) for c in able]
        free = sum(1 for c in able if c.counter_id not in self.busy)
        return expected_wait_s(ahead=ahead, free=free, rates_per_s=rates, abandon_rate_per_s=abandon_rate_per_s)


async def counter_pool(session: AsyncSession, branch_id: str, day: date) -> CounterPool:
    """Load the :class:`CounterPool` of ``branch_id`` (one round trip), with the number
    of waiting tickets of business ``day`` per skill."""
    state = await queue_state_repo.queue_state(session, branch_id, day)
    learned = {(st, teller): LearnedTime(mean, served) for st, teller, served, mean in state.learned}
    return CounterPool(state.open_counters, state.busy, learned, state.waiting_by_skill)
