"""Customer feedback after service (issue 17): one score (1 = poor .. 5 = excellent) and
an optional comment per served ticket, given at the kiosk or in the app; the
productivity figures show it per teller and hour (``feedback_count``, ``mean_feedback``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.problems import conflict
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.persistence.tables import ticket_feedback

#: Feedback scale: 1 (poor) .. 5 (excellent), the usual five-point satisfaction scale.
MIN_SCORE, MAX_SCORE = 1, 5
#: Longest comment kept (characters).
MAX_COMMENT = 1000


async def give(session: AsyncSession, ctx: Ctx, *, ticket: Row, score: int, comment: str | None, channel: str) -> dict[str, Any]:
    """Store the feedback on served ``ticket`` (``channel``: ``kiosk`` or ``app``).

    Raises:
        Problem: 409 ``ticket-not-served`` before the ticket was served; 409
            ``feedback-given`` when the ticket already has feedback (one per ticket).
    """
    if ticket.status != "served":
        raise conflict("ticket-not-served", f"ticket {ticket.number} is {ticket.status}; feedback is taken after service", current_status=ticket.status)
    comment = (comment or "").strip()[:MAX_COMMENT] or None
    values = {"ticket_id": ticket.ticket_id, "branch_id": ticket.branch_id, "teller_id": ticket.teller_id, "score": score, "comment": comment, "channel": channel, "given_at": ctx.now}
    stored = (await session.execute(insert(ticket_feedback).values(**values).on_conflict_do_nothing(index_elements=["ticket_id"]).returning(ticket_feedback.c.ticket_id))).first()
    if stored is None:
        raise conflict("feedback-given", f"ticket {ticket.number} already has feedback")
    return {**values, "given_at": ctx.now.isoformat()}
