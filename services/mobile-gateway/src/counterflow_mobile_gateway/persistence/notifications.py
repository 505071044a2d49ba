"""Queries of ``notifications`` (the customer's feed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import notifications as n


async def add_notification(session: AsyncSession, **values: Any) -> None:
    """Insert a notification."""
    await session.execute(insert(n).values(**values))


async def feed(session: AsyncSession, *, customer_id: str, limit: int, before: tuple[datetime, str] | None = None) -> list[RowMapping]:
    """The customer's notifications, newest first; ``before`` = ``(created_at, id)`` of the
    last item of the previous page (keyset pagination)."""
    stmt = select(n).where(n.c.customer_id == customer_id)
    if before is not None:
        stmt = stmt.where(tuple_(n.c.created_at, n.c.notification_id) < tuple_(*before))
    stmt = stmt.order_by(n.c.created_at.desc(), n.c.notification_id.desc()).limit(limit)
    return list((await session.execute(stmt)).mappings())


async def get_notification(session: AsyncSession, *, notification_id: str) -> RowMapping | None:
    """Notification ``notification_id``, or ``None``."""
    return (await session.execute(select(n).where(n.c.notification_id == notification_id))).mappings().first()
