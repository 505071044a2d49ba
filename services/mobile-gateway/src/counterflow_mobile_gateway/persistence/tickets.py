"""Queries of ``customer_tickets``: remote tickets and appointment tickets the app follows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import customer_tickets as t

#: Statuses in which a ticket still counts against the customer's limit.
ACTIVE_STATUSES = ("pending", "waiting", "called", "serving")


async def add_ticket(session: AsyncSession, **values: Any) -> None:
    """Insert a followed ticket (columns of ``customer_tickets`` as keyword arguments)."""
    await session.execute(insert(t).values(**values))


async def count_active_remote(session: AsyncSession, *, customer_id: str) -> int:
    """Remote tickets of ``customer_id`` that are pending or still in a queue."""
    stmt = select(func.count()).select_from(t).where(t.c.customer_id == customer_id, t.c.origin == "remote", t.c.status.in_(ACTIVE_STATUSES))
    return int((await session.execute(stmt)).scalar_one())


async def get_ticket(session: AsyncSession, *, id: str, for_update: bool = False) -> RowMapping | None:  # noqa: A002 - column name
    """The followed ticket ``id`` (locked when ``for_update``), or ``None``."""
    stmt = select(t).where(t.c.id == id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).mappings().first()


async def get_by_ticket_id(session: AsyncSession, *, ticket_id: str) -> RowMapping | None:
    """The followed ticket whose ticketing id is ``ticket_id`` (row locked), or ``None``."""
    return (await session.execute(select(t).where(t.c.ticket_id == ticket_id).with_for_update())).mappings().first()


async def list_for_customer(session: AsyncSession, *, customer_id: str, limit: int = 100) -> list[RowMapping]:
    """The customer's followed tickets, newest first."""
    stmt = select(t).where(t.c.customer_id == customer_id).order_by(t.c.requested_at.desc()).limit(limit)
    return list((await session.execute(stmt)).mappings())


async def update_ticket(session: AsyncSession, *, id: str, **values: Any) -> RowMapping:  # noqa: A002
    """Update ticket ``id`` and return the new row."""
    return (await session.execute(update(t).where(t.c.id == id).values(**values).returning(t))).mappings().one()


async def move_up_behind(session: AsyncSession, *, branch_id: str, service_type: str, left_ticket_id: str, left_issued_at: datetime, now: datetime) -> list[RowMapping]:
    """A ticket issued at ``left_issued_at`` left the queue (branch, service type): every
    followed waiting ticket issued after it moves one place up, and its estimated wait
    shrinks in proportion (``wait * (p - 1) / p``, i.e. each ticket ahead is assumed to
    take the same share of the wait). Returns the updated rows."""
    pos = t.c.position
    stmt = (
        update(t)
        .where(
            t.c.branch_id == branch_id,
            t.c.service_type == service_type,
            t.c.status == "waiting",
            t.c.ticket_id != left_ticket_id,
            t.c.issued_at > left_issued_at,
            pos > 1,
        )
        .values(
            position=pos - 1,
            estimated_wait_s=t.c.estimated_wait_s * (pos - 1) / pos,
            updated_at=now,
        )
        .returning(t)
    )
    return list((await session.execute(stmt)).mappings())


async def waiting_in_queues(session: AsyncSession, *, branch_id: str, service_types: Iterable[str]) -> list[RowMapping]:
    """Followed tickets waiting in ``branch_id`` for any of ``service_types`` (rows locked)."""
    stmt = select(t).where(t.c.branch_id == branch_id, t.c.status == "waiting", t.c.service_type.in_(list(service_types))).with_for_update()
    return list((await session.execute(stmt)).mappings())


async def pending_for_appointment(session: AsyncSession, *, appointment_id: str) -> RowMapping | None:
    """The followed ticket created from ``appointment_id``, if any."""
    return (await session.execute(select(t).where(t.c.appointment_id == appointment_id))).mappings().first()


