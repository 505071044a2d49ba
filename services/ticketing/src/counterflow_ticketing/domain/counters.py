"""Teller sessions at counters: open, pause, resume, close.

A counter has at most one live (open or paused) session, enforced by a unique partial
index; only ``open`` sessions make a counter count for call-next and wait estimates.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.problems import conflict, not_found
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.persistence import branches_repo, tickets_repo


def session_view(s: Row) -> dict[str, Any]:
    """A teller session as the workstation sees it."""
    return {"session_id": s.session_id, "counter_id": s.counter_id, "teller_id": s.teller_id, "status": s.status, "opened_at": s.opened_at.isoformat()}


async def counter_or_404(session: AsyncSession, counter_id: str) -> Row:
    """The counter ``counter_id``; 404 when unknown."""
    counter = await branches_repo.get_counter(session, counter_id)
    if counter is None:
        raise not_found("counter", counter_id)
    return counter


async def open_session(session: AsyncSession, ctx: Ctx, *, counter_id: str, teller_id: str) -> dict[str, Any]:
    """Open a teller session at the counter.

    Raises:
        Problem: 404 counter; 409 ``counter-occupied`` naming the teller already there.
    """
    counter = await counter_or_404(session, counter_id)
    values = {"session_id": str(uuid.uuid4()), "branch_id": counter.branch_id, "counter_id": counter_id, "teller_id": teller_id, "status": "open", "opened_at": ctx.now}
    if not await branches_repo.insert_teller_session(session, values):
        live = await branches_repo.live_session_of_counter(session, counter_id)
        raise conflict("counter-occupied", f"counter {counter_id} already has a session of teller {live.teller_id if live else '?'}", teller_id=live.teller_id if live else None)
    return session_view(await branches_repo.live_session_of_counter(session, counter_id))


async def _live(session: AsyncSession, counter_id: str) -> Row:
    await counter_or_404(session, counter_id)
    live = await branches_repo.live_session_of_counter(session, counter_id, lock=True)
    if live is None:
        raise conflict("counter-not-open", f"counter {counter_id} has no teller session", counter_id=counter_id)
    return live


async def set_status(session: AsyncSession, ctx: Ctx, *, counter_id: str, status: str) -> dict[str, Any]:
    """Pause (``paused``), resume (``open``) or close (``closed``) the counter's session.

    Raises:
        Problem: 404; 409 ``counter-not-open``; 409 ``counter-busy`` when closing with a
            called or serving ticket.
    """
    live = await _live(session, counter_id)
    if status == "closed" and counter_id in await tickets_repo.busy_counters(session, live.branch_id):
        raise conflict("counter-busy", f"counter {counter_id} still has a called or serving ticket", counter_id=counter_id)
    await branches_repo.set_teller_session_status(session, live.session_id, status, closed_at=ctx.now if status == "closed" else None)
    view = session_view(live)
    view["status"] = status
    return view
