"""Queries of ``app_offers`` (channel offers made to the app) and ``rule_decisions``.
Rows are returned as SQLAlchemy ``Row`` objects (attribute access), the shape
:func:`counterflow_shared.events.payloads.diversions.diversion_step` reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import app_offers as o


async def add_offer(session: AsyncSession, **values: Any) -> Row:
    """Insert an offer and return its row."""
    return (await session.execute(o.insert().values(**values).returning(*o.c))).one()


async def get_offer(session: AsyncSession, *, diversion_id: str, for_update: bool = False) -> Row | None:
    """Offer ``diversion_id`` (row-locked until the transaction ends when ``for_update``)."""
    stmt = select(o).where(o.c.diversion_id == diversion_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def update_offer(session: AsyncSession, *, diversion_id: str, **values: Any) -> Row:
    """Update offer ``diversion_id`` and return the new row."""
    return (await session.execute(update(o).where(o.c.diversion_id == diversion_id).values(**values).returning(*o.c))).one()
