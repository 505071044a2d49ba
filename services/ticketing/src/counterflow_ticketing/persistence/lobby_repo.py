"""Queries of the lobby console and the teller workstation: a branch's waiting tickets in
call order with their priority reasons, counters with their live session and ticket,
today's diversions and counts. Every query is bounded by one branch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.rules_tables import rule_decisions
from counterflow_ticketing.persistence.tables import counters, diversions, priority_raises, teller_sessions, tickets
from counterflow_ticketing.persistence.sla_repo import per_service_type
from counterflow_ticketing.persistence.tickets_repo import call_order, of_day


async def waiting_in_call_order(session: AsyncSession, branch_id: str, day: date, urgent_before: datetime) -> Sequence[Row]:
    """Waiting tickets of the branch's business ``day`` in call order (all skills interleaved)."""
    stmt = select(tickets).where(tickets.c.branch_id == branch_id, of_day(day), tickets.c.status == "waiting").order_by(*call_order(urgent_before))
    return (await session.execute(stmt)).all()


async def decisions_of(session: AsyncSession, ticket_ids: Sequence[str]) -> dict[str, Row]:
    """The rules decision that issued each ticket (``rule_id``, ``rule_set_version``,
    ``detail`` with the decision's ``explanation``), by ticket id."""
    if not ticket_ids:
        return {}
    stmt = select(rule_decisions.c.ticket_id, rule_decisions.c.rule_id, rule_decisions.c.rule_set_version, rule_decisions.c.detail).where(rule_decisions.c.ticket_id.in_(list(ticket_ids)))
    return {r.ticket_id: r for r in (await session.execute(stmt)).all()}


async def last_raises(session: AsyncSession, ticket_ids: Sequence[str]) -> dict[str, Row]:
    """The latest priority raise of each ticket that has one, by ticket id."""
    if not ticket_ids:
        return {}
    stmt = select(priority_raises).where(priority_raises.c.ticket_id.in_(list(ticket_ids))).order_by(priority_raises.c.raised_at)
    return {r.ticket_id: r for r in (await session.execute(stmt)).all()}


async def insert_raise(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a priority raise (audit)."""
    await session.execute(priority_raises.insert(), values)


async def counters_with_sessions(session: AsyncSession, branch_id: str) -> Sequence[Row]:
    """Active counters of the branch with their live session (``session_status``,
    ``teller_id``; ``None`` when closed)."""
    live = select(teller_sessions).where(teller_sessions.c.status != "closed").subquery()
    stmt = (
        select(counters, live.c.status.label("session_status"), live.c.teller_id.label("session_teller"), live.c.opened_at.label("session_opened_at"))
        .outerjoin(live, live.c.counter_id == counters.c.counter_id)
        .where(counters.c.branch_id == branch_id, counters.c.active.is_(True))
        .order_by(counters.c.counter_id)
    )
    return (await session.execute(stmt)).all()


async def tickets_at_counters(session: AsyncSession, branch_id: str) -> dict[str, Row]:
    """Called or serving tickets of the branch by counter id."""
    stmt = select(tickets).where(tickets.c.branch_id == branch_id, tickets.c.status.in_(("called", "serving")))
    return {t.counter_id: t for t in (await session.execute(stmt)).all() if t.counter_id}


async def diversions_since(session: AsyncSession, branch_id: str, since: datetime, limit: int = 50) -> Sequence[Row]:
    """The branch's diversion offers created since ``since``, newest first."""
    stmt = select(diversions).where(diversions.c.branch_id == branch_id, diversions.c.created_at >= since).order_by(diversions.c.created_at.desc()).limit(limit)
    return (await session.execute(stmt)).all()


async def day_counts(session: AsyncSession, branch_id: str, since: datetime, target_s: dict[str, float], default_target_s: float) -> dict[str, int]:
    """Counts of tickets issued since ``since``: ``issued``, ``served``, ``walk_outs``
    (left before service: no-show or cancelled), ``called``, ``called_within_target``
    (each service type against ``target_s[service_type]``, else ``default_target_s``;
    seconds)."""
    waited = func.extract("epoch", tickets.c.called_at - tickets.c.issued_at)
    target = per_service_type(target_s, default_target_s)
    stmt = select(
        func.count(),
        func.count().filter(tickets.c.status == "served"),
        func.count().filter(tickets.c.status.in_(("no_show", "cancelled"))),
        func.count().filter(tickets.c.called_at.is_not(None)),
        func.count().filter(tickets.c.called_at.is_not(None), waited <= target),
    ).where(tickets.c.branch_id == branch_id, tickets.c.issued_at >= since)
    issued, served, walk_outs, called, within = (await session.execute(stmt)).one()
    return {"issued": int(issued), "served": int(served), "walk_outs": int(walk_outs), "called": int(called), "called_within_target": int(within)}
