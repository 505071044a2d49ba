"""Queries of ``appointment_handoffs`` (accepted appointment diversions awaiting a booking)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import appointment_handoffs as h

WAITING = "waiting"


async def add(session: AsyncSession, **values: Any) -> bool:
    """Insert a hand-off; ``False`` when its diversion is already known (redelivery)."""
    stmt = pg_insert(h).values(status=WAITING, **values).on_conflict_do_nothing().returning(h.c.diversion_id)
    return (await session.execute(stmt)).first() is not None


async def claim_open(session: AsyncSession, *, customer_id: str, branch_id: str, service_type: str, now: datetime) -> RowMapping | None:
    """The customer's oldest waiting, unexpired hand-off at ``branch_id``, preferring one of
    ``service_type`` (row locked, skipping rows another transaction holds), or ``None``."""
    stmt = (
        select(h)
        .where(h.c.customer_id == customer_id, h.c.branch_id == branch_id, h.c.status == WAITING, h.c.expires_at > now)
        .order_by((h.c.service_type != service_type), h.c.expires_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).mappings().first()


async def overdue(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[RowMapping]:
    """Waiting hand-offs past ``expires_at`` (locked, skipping those another instance holds)."""
    stmt = select(h).where(h.c.status == WAITING, h.c.expires_at <= now).order_by(h.c.expires_at).limit(limit).with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).mappings())


async def close(session: AsyncSession, *, diversion_id: str, status: str, at: datetime, appointment_id: str | None = None) -> None:
    """Mark hand-off ``diversion_id`` ``completed`` (by ``appointment_id``) or ``expired``."""
    await session.execute(update(h).where(h.c.diversion_id == diversion_id).values(status=status, closed_at=at, appointment_id=appointment_id))
