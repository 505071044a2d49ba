"""Queries on ``load_snapshots`` (the last published load signature per branch)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import load_snapshots


async def claim(session: AsyncSession, branch_id: str) -> bool:
    """Make sure the branch's row exists and lock it ``SKIP LOCKED``; ``False`` when
    another instance holds it right now."""
    await session.execute(
        insert(load_snapshots).values(branch_id=branch_id, published_at=datetime(1970, 1, 1, tzinfo=UTC), signature={}).on_conflict_do_nothing()
    )
    stmt = select(load_snapshots.c.branch_id).where(load_snapshots.c.branch_id == branch_id).with_for_update(skip_locked=True)
    return (await session.execute(stmt)).first() is not None


async def last(session: AsyncSession, branch_id: str) -> Row | None:
    """The last published snapshot's time and signature (``None`` when never published)."""
    row = (await session.execute(select(load_snapshots).where(load_snapshots.c.branch_id == branch_id))).first()
    return row if row is not None and row.published_at.year > 1970 else None


async def record(session: AsyncSession, branch_id: str, at: datetime, signature: dict[str, Any]) -> None:
    """Remember the snapshot published at ``at``."""
    await session.execute(load_snapshots.update().where(load_snapshots.c.branch_id == branch_id).values(published_at=at, signature=signature))
