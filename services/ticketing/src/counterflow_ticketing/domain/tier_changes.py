"""A customer's tier change reaches the queue (issue 17): when ``customer.score.updated``
raises a customer's tier, the customer's waiting tickets gain the priority points of the
new tier (:data:`~counterflow_ticketing.domain.priority.TIER_PRIORITY`) at once, as if
they had been issued with it, and the raise is audited like a lobby manager's.

A lower tier never pushes a waiting customer back: the priority a ticket was issued with
is what the customer was shown and planned on, so a downgrade applies from the next
ticket on (the read model that decides new tickets has it already).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.domain import priority
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.persistence import lobby_repo, tickets_repo

#: ``raised_by`` / ``role`` of an audited raise that a tier change made.
RAISED_BY = "customer.score.updated"
ROLE = "system"


async def apply_tier(session: AsyncSession, ctx: Ctx, *, customer_id: str, tier: str) -> int:
    """Give the customer's waiting tickets the priority of ``tier`` where it is higher
    than theirs; returns how many tickets moved. One statement (an index lookup) when
    nothing moves, plus an update and an audit row per ticket that moved.

    A ticket's points are its tier's points plus appointment and rule boost points
    (:func:`priority.priority_of`); the tier's share is swapped and the result capped at
    :data:`priority.MAX_PRIORITY`. Its due time is recomputed from when it was queued
    (never later than it was)."""
    moved = 0
    for t in await tickets_repo.waiting_of_customer(session, customer_id):
        if t.tier == tier:
            continue
        new = min(priority.MAX_PRIORITY, max(0, t.priority - priority.TIER_PRIORITY.get(t.tier or "", 0) + priority.TIER_PRIORITY.get(tier, 0)))
        if new <= t.priority:
            continue
        due = priority.due_at(t.queued_at, new, max_wait_s=t.max_wait_s, step_s=ctx.settings.priority_step_s)
        await tickets_repo.update_ticket(session, t.ticket_id, {"priority": new, "tier": tier, "due_at": min(due, t.due_at)})
        reason = f"tier {t.tier or 'none'} -> {tier}"
        await lobby_repo.insert_raise(session, {"raise_id": str(uuid.uuid4()), "ticket_id": t.ticket_id, "branch_id": t.branch_id, "from_priority": t.priority, "to_priority": new, "reason": reason, "raised_by": RAISED_BY, "role": ROLE, "raised_at": ctx.now})
        moved += 1
    return moved
