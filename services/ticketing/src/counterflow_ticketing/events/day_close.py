"""Background loop of the end-of-day close (see :mod:`..domain.business_day`).

It wakes at the next local midnight of any branch that has waiting or called tickets
(at most ``day_close_check_s`` seconds later, so new branches and a simulated clock are
picked up), closes every branch whose day ended and sleeps again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from counterflow_ticketing.domain import business_day
from counterflow_ticketing.domain.context import ctx_for
from counterflow_ticketing.persistence import branches_repo, tickets_repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


async def close_business_days_once(runtime: "ServiceRuntime") -> int:
    """Close every branch whose business day ended (one transaction per branch); returns
    how many tickets expired."""
    ctx = await ctx_for(runtime)
    async with runtime.sessions() as session, session.begin():
        due = await business_day.due(session, ctx.now)
    expired = 0
    for branch_id, today in due:
        async with runtime.sessions() as session, session.begin():
            expired += await business_day.close_branch(session, ctx, branch_id, today)
    return expired


async def _seconds_to_sleep(runtime: "ServiceRuntime") -> float:
    cap = float(runtime.settings.day_close_check_s)  # type: ignore[attr-defined]
    now = await runtime.clock.now()
    async with runtime.sessions() as session, session.begin():
        live = {b for b, _ in await tickets_repo.stale_branches(session)}
        zones = {b.time_zone for b in await branches_repo.list_branches(session) if b.branch_id in live}
    until = business_day.seconds_to_next_close(now, zones)
    return cap if until is None else max(0.05, min(cap, until + 0.05))


async def business_day_close_loop(runtime: "ServiceRuntime") -> None:
    """Close ended business days until cancelled."""
    while True:
        await close_business_days_once(runtime)
        await asyncio.sleep(await _seconds_to_sleep(runtime))
