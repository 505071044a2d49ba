"""Queries of ``appointments``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import appointments as a


async def add_appointment(session: AsyncSession, **values: Any) -> RowMapping:
    """Insert an appointment and return the row."""
    return (await session.execute(insert(a).values(**values).returning(a))).mappings().one()


async def get_appointment(session: AsyncSession, *, appointment_id: str, for_update: bool = False) -> RowMapping | None:
    """Appointment ``appointment_id`` (locked when ``for_update``), or ``None``."""
    stmt = select(a).where(a.c.appointment_id == appointment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).mappings().first()


async def list_for_customer(session: AsyncSession, *, customer_id: str, limit: int = 100) -> list[RowMapping]:
    """The customer's appointments, soonest first."""
    stmt = select(a).where(a.c.customer_id == customer_id).order_by(a.c.starts_at).limit(limit)
    return list((await session.execute(stmt)).mappings())


async def booked_counts(session: AsyncSession, *, branch_id: str, service_type: str, start: datetime, end: datetime, exclude_id: str | None = None) -> dict[datetime, int]:
    """Booked appointments per slot start (UTC) in ``[start, end)`` for one branch and
    service type, not counting ``exclude_id`` (the appointment being rescheduled)."""
    stmt = (
        select(a.c.starts_at, func.count())
        .where(a.c.branch_id == branch_id, a.c.service_type == service_type, a.c.status == "booked", a.c.starts_at >= start, a.c.starts_at < end)
        .group_by(a.c.starts_at)
    )
    if exclude_id:
        stmt = stmt.where(a.c.appointment_id != exclude_id)
    return {row[0]: int(row[1]) for row in await session.execute(stmt)}


async def update_appointment(session: AsyncSession, *, appointment_id: str, **values: Any) -> RowMapping:
    """Update appointment ``appointment_id`` and return the new row."""
    return (await session.execute(update(a).where(a.c.appointment_id == appointment_id).values(**values).returning(a))).mappings().one()


async def due_reminders(session: AsyncSession, *, now: datetime, until: datetime, limit: int = 200) -> list[RowMapping]:
    """Booked appointments starting in ``(now, until]`` without a reminder yet (rows
    locked, skipping rows another instance holds)."""
    stmt = (
        select(a)
        .where(a.c.status == "booked", a.c.reminder_sent.is_(False), a.c.starts_at > now, a.c.starts_at <= until)
        .order_by(a.c.starts_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).mappings())
