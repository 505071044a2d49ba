"""End-of-day close: when a branch's business day ends (local midnight in its IANA time
zone), its waiting and called tickets of that day end as ``expired``, each with a
``branch.ticket.expired`` event written in the same transaction (transactional outbox).

A ticket in service (``serving``) is left to its teller to finish. Queues, estimates and
call-next already see only the current business day (:func:`tickets_repo.of_day`), so
the close is about giving every stale ticket a final state and telling the apps and
displays; nothing waits on it to keep yesterday out of today's queue.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads import tickets as tk
from counterflow_ticketing.domain import calendar
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.events.publishers import ticket_transition
from counterflow_ticketing.persistence import branches_repo, tickets_repo

log = structlog.get_logger(__name__)


async def close_branch(session: AsyncSession, ctx: Ctx, branch_id: str, today: date) -> int:
    """Expire the branch's waiting and called tickets of business days before ``today``;
    returns how many expired. Each gets its ``branch.ticket.expired`` event in
    ``session``'s transaction."""
    rows = await tickets_repo.expire_before(session, branch_id, today, ctx.now)
    for row in rows:
        await ctx.publish(session, ticket_transition(tk.TicketExpired, row, at=ctx.now))
    if rows:
        log.info("business_day.closed", branch_id=branch_id, today=today.isoformat(), expired=len(rows), oldest=rows[0].business_date.isoformat())
    return len(rows)


async def due(session: AsyncSession, now: datetime) -> list[tuple[str, date]]:
    """``(branch_id, current business day)`` of branches whose close is due at ``now``."""
    zones = {b.branch_id: b.time_zone for b in await branches_repo.list_branches(session)}
    out = []
    for branch_id, earliest in await tickets_repo.stale_branches(session):
        if branch_id in zones and earliest < (today := calendar.business_date(now, zones[branch_id])):
            out.append((branch_id, today))
    return out


def seconds_to_next_close(now: datetime, time_zones: set[str]) -> float | None:
    """Seconds from ``now`` until the earliest next local midnight among ``time_zones``
    (``None`` when empty). Local midnight goes through the zone database, so a day of
    23 or 25 hours (daylight-saving change) ends at the right instant."""
    ends = []
    for name in time_zones:
        tomorrow = calendar.business_date(now, name) + timedelta(days=1)
        ends.append(calendar.local_instant(tomorrow, datetime.min.time(), name))
    return min((e - now).total_seconds() for e in ends) if ends else None
