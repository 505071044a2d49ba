"""Queries of ``drafts`` (hand-off drafts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import drafts as d


async def add_draft(session: AsyncSession, **values: Any) -> RowMapping | None:
    """Insert a draft; ``None`` when one already exists for its diversion."""
    stmt = pg_insert(d).values(**values).on_conflict_do_nothing().returning(d)
    return (await session.execute(stmt)).mappings().first()


async def get_draft(session: AsyncSession, *, draft_id: str, for_update: bool = False) -> RowMapping | None:
    """Draft ``draft_id`` (locked when ``for_update``), or ``None``."""
    stmt = select(d).where(d.c.draft_id == draft_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).mappings().first()


async def list_for_customer(session: AsyncSession, *, customer_id: str, limit: int = 100) -> list[RowMapping]:
    """The customer's drafts, newest first."""
    stmt = select(d).where(d.c.customer_id == customer_id).order_by(d.c.created_at.desc()).limit(limit)
    return list((await session.execute(stmt)).mappings())


async def update_draft(session: AsyncSession, *, draft_id: str, **values: Any) -> RowMapping:
    """Update draft ``draft_id`` and return the new row."""
    return (await session.execute(update(d).where(d.c.draft_id == draft_id).values(**values).returning(d))).mappings().one()


async def overdue(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[RowMapping]:
    """Waiting drafts past ``expires_at`` (rows locked, skipping those another instance holds)."""
    stmt = select(d).where(d.c.status == "waiting", d.c.expires_at <= now).order_by(d.c.expires_at).limit(limit).with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).mappings())
