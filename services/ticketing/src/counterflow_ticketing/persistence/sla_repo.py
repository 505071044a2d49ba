"""Queries of SLA targets (``sla_targets``) and the branch measurements the staff SLA
view reads (issue 17). Every figure is per service type; times in seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import sla_targets, tickets

DEFAULT = "*"


async def targets(session: AsyncSession, branch_id: str) -> dict[str, tuple[float, float]]:
    """``{service_type or "*": (target_s, window_s)}`` set for the branch (may be empty)."""
    rows = (await session.execute(select(sla_targets.c.service_type, sla_targets.c.target_s, sla_targets.c.window_s).where(sla_targets.c.branch_id == branch_id))).all()
    return {r.service_type: (r.target_s, r.window_s) for r in rows}


async def replace_targets(session: AsyncSession, branch_id: str, rows: dict[str, tuple[float, float]], *, by: str, at: datetime) -> None:
    """Replace the branch's targets by ``rows`` (same shape as :func:`targets`)."""
    await session.execute(delete(sla_targets).where(sla_targets.c.branch_id == branch_id))
    if rows:
        await session.execute(
            insert(sla_targets),
            [{"branch_id": branch_id, "service_type": st, "target_s": t, "window_s": w, "updated_by": by, "updated_at": at} for st, (t, w) in rows.items()],
        )


def per_service_type(values: dict[str, float], default: float) -> Any:
    """SQL expression: ``values[tickets.service_type]``, else ``default``."""
    if not values:
        return literal(default)
    return case(values, value=tickets.c.service_type, else_=literal(default))


async def called_stats(session: AsyncSession, branch_id: str, *, now: datetime, target_s: dict[str, float], window_s: dict[str, float], default_target_s: float, default_window_s: float) -> list[tuple[str, int, int, float, float]]:
    """Per service type ``(service_type, called, within_target, mean_wait_s, p90_wait_s)``
    of tickets called in the type's window before ``now`` (one statement)."""
    target = per_service_type(target_s, default_target_s)
    window = per_service_type(window_s, default_window_s)
    waited = func.extract("epoch", tickets.c.called_at - tickets.c.issued_at)
    stmt = (
        select(tickets.c.service_type, func.count(), func.count().filter(waited <= target), func.avg(waited), func.percentile_cont(0.9).within_group(waited))
        .where(tickets.c.branch_id == branch_id, tickets.c.called_at.is_not(None), tickets.c.called_at <= now, func.extract("epoch", literal(now) - tickets.c.called_at) <= window)
        .group_by(tickets.c.service_type)
    )
    return [(st, int(n), int(ok), float(mean), float(p90)) for st, n, ok, mean, p90 in (await session.execute(stmt)).all()]


async def measured(session: AsyncSession, branch_id: str, *, now: datetime, target_s: dict[str, float], window_s: dict[str, float], default_target_s: float, default_window_s: float) -> dict[str, dict[str, Any]]:
    """Per service type, over each type's own window before ``now``: ``called``,
    ``within_target`` (called within the type's target after the ticket was issued),
    ``mean_wait_s`` / ``p90_wait_s`` (issue to call, called tickets), ``no_shows``,
    ``cancelled`` (walk-outs: tickets issued in the window that left unserved), and, for
    tickets waiting now, ``waiting`` and ``longest_wait_s``. Three statements."""
    window = per_service_type(window_s, default_window_s)
    out: dict[str, dict[str, Any]] = {}

    def row_of(st: str) -> dict[str, Any]:
        return out.setdefault(st, {"called": 0, "within_target": 0, "mean_wait_s": None, "p90_wait_s": None, "no_shows": 0, "cancelled": 0, "waiting": 0, "longest_wait_s": None})

    for st, n, ok, mean, p90 in await called_stats(session, branch_id, now=now, target_s=target_s, window_s=window_s, default_target_s=default_target_s, default_window_s=default_window_s):
        row_of(st).update(called=n, within_target=ok, mean_wait_s=round(mean, 1), p90_wait_s=round(p90, 1))
    left = (
        select(tickets.c.service_type, func.count().filter(tickets.c.status == "no_show"), func.count().filter(tickets.c.status == "cancelled"))
        .where(tickets.c.branch_id == branch_id, tickets.c.status.in_(("no_show", "cancelled")), tickets.c.issued_at <= now, func.extract("epoch", literal(now) - tickets.c.issued_at) <= window)
        .group_by(tickets.c.service_type)
    )
    for st, no_shows, cancelled in (await session.execute(left)).all():
        row_of(st).update(no_shows=int(no_shows), cancelled=int(cancelled))
    waiting = select(tickets.c.service_type, func.count(), func.min(tickets.c.issued_at)).where(tickets.c.branch_id == branch_id, tickets.c.status == "waiting").group_by(tickets.c.service_type)
    for st, n, oldest in (await session.execute(waiting)).all():
        row_of(st).update(waiting=int(n), longest_wait_s=round(max((now - oldest).total_seconds(), 0.0), 1))
    return out
