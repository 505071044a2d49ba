"""The queue state of a branch in one round trip: open counters with their skills and
tellers, counters busy with a ticket, learned service times and waiting tickets per
skill. Used on the hot path of issuing a ticket and computing wait estimates."""

from __future__ import annotations

from dataclasses import dataclass

from datetime import date

from sqlalchemy import Date, Select, String, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import counters, service_time_stats, teller_sessions, tickets


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
    learned: list[tuple[str, str, int, float]]  # service_type, teller_id, served, mean_s
    waiting_by_skill: dict[str, int]


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
                func.json_agg(func.json_build_array(service_time_stats.c.service_type, service_time_stats.c.teller_id, service_time_stats.c.served, service_time_stats.c.mean_s)),
                literal_column("'[]'::json"),
            )
        )
        .where(service_time_stats.c.branch_id == branch_id)
        .scalar_subquery()
    )
    per_skill = select(tickets.c.skill, func.count().label("n")).where(tickets.c.branch_id == branch_id, tickets.c.business_date == day, tickets.c.status == "waiting").group_by(tickets.c.skill).subquery()
    waiting_q = select(func.coalesce(func.json_object_agg(per_skill.c.skill, per_skill.c.n), literal_column("'{}'::json"))).scalar_subquery()
    return select(open_q, busy_q, learned_q, waiting_q)


_QUEUE_STATE = _queue_state_statement()


async def queue_state(session: AsyncSession, branch_id: str, day: date) -> QueueState:
    """Load the :class:`QueueState` of ``branch_id`` with a single statement; waiting
    tickets count only on business ``day``."""
    open_rows, busy, learned, waiting = (await session.execute(_QUEUE_STATE, {"branch_id": branch_id, "day": day})).one()
    return QueueState(
        open_counters=[OpenCounter(r["c"], list(r["s"] or []), r["t"]) for r in open_rows],
        busy=frozenset(c for c in busy if c),
        learned=[(a, b, int(n), float(m)) for a, b, n, m in learned],
        waiting_by_skill={k: int(v) for k, v in waiting.items()},
    )


