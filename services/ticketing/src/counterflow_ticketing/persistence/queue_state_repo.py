"""The queue state of a branch in one round trip: open counters with their skills and
tellers, counters busy with a ticket, learned service times, waiting tickets per
skill, the delay history per skill (head of line, last to enter service) and the
learned wait model. Used on the hot path of issuing a ticket and computing wait estimates."""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Any

from datetime import date

from sqlalchemy import Date, Select, String, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import counters, service_time_stats, teller_sessions, tickets, wait_models


@dataclass(frozen=True)
class OpenCounter:
    """An open counter: id, skills and the teller of its open session."""

    counter_id: str
    skills: list[str]
    teller_id: str


@dataclass(frozen=True)
class QueueState:
    """What :func:`queue_state` returns."""

    open_counters: list[OpenCounter]
    busy: frozenset[str]
    learned: list[tuple[str, str, int, float, float | None]]  # service_type, teller_id, served, mean_s, mean_sq_s
    waiting_by_skill: dict[str, int]
    oldest_waiting_epoch: dict[str, float] = field(default_factory=dict)  # skill -> queued_at of the head of line (Unix s)
    last_entered_s: dict[str, float] = field(default_factory=dict)  # skill -> wait of the live ticket called last (s)
    wait_model: dict[str, Any] | None = None  # the branch's WaitModel.to_json()


def _queue_state_statement() -> Select:
    """The one statement behind :func:`queue_state` (parameters ``branch_id`` and the
    business ``day`` whose waiting tickets count), built once
    at import: it is on the hot path of every ticket, and building and hashing it per
    request cost more CPU than running it (``bench/ticketing.py``)."""
    branch_id = bindparam("branch_id", type_=String)
    day = bindparam("day", type_=Date)
    open_q = (
        select(func.coalesce(func.json_agg(func.json_build_object("c", counters.c.counter_id, "s", counters.c.skills, "t", teller_sessions.c.teller_id)), literal_column("'[]'::json")))
        .select_from(counters.join(teller_sessions, teller_sessions.c.counter_id == counters.c.counter_id))
        .where(counters.c.branch_id == branch_id, counters.c.active.is_(True), teller_sessions.c.status == "open")
        .scalar_subquery()
    )
    busy_q = (
        select(func.coalesce(func.json_agg(tickets.c.counter_id), literal_column("'[]'::json")))
        .where(tickets.c.branch_id == branch_id, tickets.c.status.in_(("called", "serving")))
        .scalar_subquery()
    )
    learned_q = (
        select(
            func.coalesce(
                func.json_agg(func.json_build_array(service_time_stats.c.service_type, service_time_stats.c.teller_id, service_time_stats.c.served, service_time_stats.c.mean_s, service_time_stats.c.mean_sq_s)),
                literal_column("'[]'::json"),
            )
        )
        .where(service_time_stats.c.branch_id == branch_id)
        .scalar_subquery()
    )
    per_skill = select(tickets.c.skill, func.count().label("n")).where(tickets.c.branch_id == branch_id, tickets.c.business_date == day, tickets.c.status == "waiting").group_by(tickets.c.skill).subquery()
    waiting_q = select(func.coalesce(func.json_object_agg(per_skill.c.skill, per_skill.c.n), literal_column("'{}'::json"))).scalar_subquery()
    head = select(tickets.c.skill, func.extract("epoch", func.min(tickets.c.queued_at)).label("q")).where(tickets.c.branch_id == branch_id, tickets.c.business_date == day, tickets.c.status == "waiting").group_by(tickets.c.skill).subquery()
    head_q = select(func.coalesce(func.json_object_agg(head.c.skill, head.c.q), literal_column("'{}'::json"))).scalar_subquery()
    # the live (called or serving) ticket called last per skill: index (branch_id, status)
    last = (
        select(tickets.c.skill, func.extract("epoch", tickets.c.called_at - tickets.c.queued_at).label("w"))
        .where(tickets.c.branch_id == branch_id, tickets.c.status.in_(("called", "serving")), tickets.c.called_at.is_not(None))
        .distinct(tickets.c.skill)
        .order_by(tickets.c.skill, tickets.c.called_at.desc())
        .subquery()
    )
    last_q = select(func.coalesce(func.json_object_agg(last.c.skill, last.c.w), literal_column("'{}'::json"))).scalar_subquery()
    model_q = select(wait_models.c.state).where(wait_models.c.branch_id == branch_id).scalar_subquery()
    return select(open_q, busy_q, learned_q, waiting_q, head_q, last_q, model_q)


_QUEUE_STATE = _queue_state_statement()


async def queue_state(session: AsyncSession, branch_id: str, day: date) -> QueueState:
    """Load the :class:`QueueState` of ``branch_id`` with a single statement; waiting
    tickets (and the head of line) count only on business ``day``."""
    open_rows, busy, learned, waiting, head, last, model = (await session.execute(_QUEUE_STATE, {"branch_id": branch_id, "day": day})).one()
    return QueueState(
        open_counters=[OpenCounter(r["c"], list(r["s"] or []), r["t"]) for r in open_rows],
        busy=frozenset(c for c in busy if c),
        learned=[(a, b, int(n), float(m), None if sq is None else float(sq)) for a, b, n, m, sq in learned],
        waiting_by_skill={k: int(v) for k, v in waiting.items()},
        oldest_waiting_epoch={k: float(v) for k, v in head.items()},
        last_entered_s={k: max(0.0, float(v)) for k, v in last.items()},
        wait_model=model,
    )


