"""Queries of the decision records (``rule_decisions``) for reading one back (issue 17)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.rules_tables import rule_decisions as d


async def find(session: AsyncSession, *, decision_id: str | None = None, ticket_id: str | None = None, diversion_id: str | None = None) -> Row | None:
    """The decision with ``decision_id``, or the one that produced ``ticket_id`` /
    ``diversion_id`` (the first one recorded when several name it), or ``None``. Exactly
    one key is expected; each is indexed."""
    if decision_id is not None:
        cond = d.c.decision_id == decision_id
    elif ticket_id is not None:
        cond = d.c.ticket_id == ticket_id
    else:
        cond = d.c.diversion_id == diversion_id
    return (await session.execute(select(d).where(cond).order_by(d.c.decided_at).limit(1))).first()
