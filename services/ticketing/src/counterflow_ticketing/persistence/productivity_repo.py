"""Reads behind the productivity figures (issue 17): the tickets (with their feedback),
teller sessions and transfers of one branch in a period (three statements, each on an
index by branch)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import teller_sessions, ticket_feedback, ticket_transfers, tickets


async def period_rows(session: AsyncSession, branch_id: str, *, first: date, last: date, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """``tickets`` of business days ``first``..``last`` (teller, status, issued / called /
    serving / finished instants, the customer's ``feedback_score`` or ``None``), teller ``sessions`` overlapping ``[start, end)`` and
    ``transfers`` in it."""
    t = tickets.c
    f = ticket_feedback.c
    ticket_rows = await session.execute(
        select(t.ticket_id, t.teller_id, t.counter_id, t.status, t.issued_at, t.called_at, t.serving_started_at, t.finished_at, f.score.label("feedback_score"))
        .outerjoin(ticket_feedback, f.ticket_id == t.ticket_id)
        .where(t.branch_id == branch_id, t.business_date >= first, t.business_date <= last)
    )
    s = teller_sessions.c
    session_rows = await session.execute(
        select(s.teller_id, s.counter_id, s.opened_at, s.closed_at).where(s.branch_id == branch_id, s.opened_at < end, or_(s.closed_at.is_(None), s.closed_at > start))
    )
    x = ticket_transfers.c
    transfer_rows = await session.execute(select(x.ticket_id, x.teller_id, x.at).where(x.branch_id == branch_id, x.at >= start, x.at < end))
    return {
        "tickets": [dict(r) for r in ticket_rows.mappings()],
        "sessions": [dict(r) for r in session_rows.mappings()],
        "transfers": [dict(r) for r in transfer_rows.mappings()],
    }
