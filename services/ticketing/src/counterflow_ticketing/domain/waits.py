"""Wait estimates from live state: the queue, the open counters, the learned service
times. The formula is :mod:`counterflow_ticketing.domain.estimation`'s; this module
gathers its inputs from the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.domain.estimation import LearnedTime, expected_wait_s, mean_service_s, service_cv2
from counterflow_ticketing.domain.wait_model import QueueView, WaitForecast, WaitModel
from counterflow_ticketing.persistence import queue_state_repo


@dataclass(frozen=True)
class CounterPool:
    """Open counters of a branch at one instant (``counter_id``, ``skills``, ``teller_id``),
    the counters busy with a called or serving ticket, the learned service times, the
    waiting tickets per skill, the delay history per skill (queued-at of the head of
    line as Unix seconds; wait of the live ticket called last, seconds) and the branch's
    learned :class:`WaitModel`."""

    open_counters: Sequence[Any]
    busy: frozenset[str]
    learned: Mapping[tuple[str, str], LearnedTime]
    waiting_by_skill: Mapping[str, int]
    oldest_waiting_epoch: Mapping[str, float] = field(default_factory=dict)
    last_entered_s: Mapping[str, float] = field(default_factory=dict)
    model: WaitModel = field(default_factory=WaitModel)

    def able(self, skill: str) -> list[Any]:
        """Open counters whose skills include ``skill``."""
        return [c for c in self.open_counters if skill in (c.skills or [])]

    def estimate(self, *, skill: str, service_type: str, default_s: float, ahead: int, abandon_rate_per_s: float = 0.0) -> float | None:
        """Expected wait (seconds, ``None`` = unknown) of a ticket with ``ahead`` tickets before it."""
        able = self.able(skill)
        rates = [1.0 / mean_service_s(teller_id=c.teller_id, service_type=service_type, learned=self.learned, default_s=default_s) for c in able]
        free = sum(1 for c in able if c.counter_id not in self.busy)
        return expected_wait_s(ahead=ahead, free=free, rates_per_s=rates, abandon_rate_per_s=abandon_rate_per_s)

    def view(
        self,
        *,
        skill: str,
        service_type: str,
        default_s: float,
        ahead: int,
        abandon_rate_per_s: float = 0.0,
        overtake_rate_per_s: float = 0.0,
        top_priority: bool = False,
        head_of_line_s: float = 0.0,
        last_entered_s: float = 0.0,
    ) -> QueueView:
        """The :class:`~counterflow_ticketing.domain.wait_model.QueueView` of a ticket with
        ``ahead`` tickets before it (the wait model's input); rates per open able counter
        from its teller's learned mean, the fitted service-time ``cv2`` of the type."""
        able = self.able(skill)
        rates = [1.0 / mean_service_s(teller_id=c.teller_id, service_type=service_type, learned=self.learned, default_s=default_s) for c in able]
        return QueueView(
            ahead=ahead,
            free=sum(1 for c in able if c.counter_id not in self.busy),
            rates_per_s=rates,
            abandon_rate_per_s=abandon_rate_per_s,
            cv2=service_cv2(service_type=service_type, learned=self.learned),
            overtake_rate_per_s=0.0 if top_priority else overtake_rate_per_s,
            head_of_line_s=head_of_line_s,
            last_entered_s=last_entered_s,
            mean_service_s=mean_service_s(teller_id=None, service_type=service_type, learned=self.learned, default_s=default_s),
            top_priority=top_priority,
        )


def forecast(
    pool: CounterPool,
    *,
    now: datetime,
    skill: str,
    service_type: str,
    default_s: float,
    ahead: int,
    priority: int,
    abandon_rate_per_s: float,
    overtake_rate_per_s: float,
    sla_s: float,
) -> tuple[QueueView, WaitForecast | None]:
    """The wait forecast of a ticket of ``priority`` with ``ahead`` tickets before it at
    ``now``, and the queue view it rests on (stored with the ticket so the model learns
    from it when the ticket is called). ``None`` forecast: no open counter can serve it.
    A ticket with priority (> 0) is taken as not overtaken (``top_priority``)."""
    oldest = pool.oldest_waiting_epoch.get(skill)
    view = pool.view(
        skill=skill,
        service_type=service_type,
        default_s=default_s,
        ahead=ahead,
        abandon_rate_per_s=abandon_rate_per_s,
        overtake_rate_per_s=overtake_rate_per_s,
        top_priority=priority > 0,
        head_of_line_s=0.0 if oldest is None else max(0.0, now.timestamp() - oldest),
        last_entered_s=pool.last_entered_s.get(skill, 0.0),
    )
    return view, pool.model.forecast(view, sla_s)


async def counter_pool(session: AsyncSession, branch_id: str, day: date) -> CounterPool:
    """Load the :class:`CounterPool` of ``branch_id`` (one round trip), with the number
    of waiting tickets of business ``day`` per skill, the delay history and the wait model."""
    state = await queue_state_repo.queue_state(session, branch_id, day)
    learned = {(st, teller): LearnedTime(mean, served, sq) for st, teller, served, mean, sq in state.learned}
    return CounterPool(state.open_counters, state.busy, learned, state.waiting_by_skill, state.oldest_waiting_epoch, state.last_entered_s, WaitModel.from_json(state.wait_model))
