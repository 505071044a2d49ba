"""Repository of the branch directory read model (``branch.directory.v1``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.branches import BranchProfile
from counterflow_selfservice.persistence.tables import branches


async def upsert_profile(session: AsyncSession, profile: BranchProfile) -> None:
    """Store ``profile`` unless a newer one (by ``updated_at``) is stored: one statement,
    so a redelivered or late event is harmless."""
    values = {"branch_id": profile.branch_id, "name": profile.name, "language": profile.language, "time_zone": profile.time_zone, "updated_at": profile.updated_at}
    stmt = postgresql.insert(branches).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=[branches.c.branch_id], set_={k: stmt.excluded[k] for k in values if k != "branch_id"}, where=branches.c.updated_at <= stmt.excluded.updated_at)
    await session.execute(stmt)


async def get_branch(session: AsyncSession, branch_id: str) -> Any | None:
    """The stored profile row of ``branch_id`` (``name``, ``language``, ``time_zone``), or ``None``."""
    return (await session.execute(select(branches).where(branches.c.branch_id == branch_id))).first()
