"""Queries of the branch read models (``branch_profiles``, ``branch_loads``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import branch_loads, branch_profiles


async def upsert_profile(session: AsyncSession, *, branch_id: str, profile: dict[str, Any], updated_at: datetime) -> None:
    """Store a branch profile unless a newer one (by ``updated_at``) is already stored."""
    stmt = pg_insert(branch_profiles).values(branch_id=branch_id, profile=profile, updated_at=updated_at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[branch_profiles.c.branch_id],
        set_={"profile": stmt.excluded.profile, "updated_at": stmt.excluded.updated_at},
        where=branch_profiles.c.updated_at <= stmt.excluded.updated_at,
    )
    await session.execute(stmt)


async def upsert_load(session: AsyncSession, *, branch_id: str, snapshot: dict[str, Any], at: datetime) -> None:
    """Store a load snapshot unless a newer one (by ``at``) is already stored."""
    stmt = pg_insert(branch_loads).values(branch_id=branch_id, snapshot=snapshot, at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[branch_loads.c.branch_id],
        set_={"snapshot": stmt.excluded.snapshot, "at": stmt.excluded.at},
        where=branch_loads.c.at <= stmt.excluded.at,
    )
    await session.execute(stmt)


async def get_profile(session: AsyncSession, *, branch_id: str, for_update: bool = False) -> dict[str, Any] | None:
    """The stored profile JSON of ``branch_id``; ``for_update`` locks the row until the
    transaction ends (serialises bookings in one branch)."""
    stmt = select(branch_profiles.c.profile).where(branch_profiles.c.branch_id == branch_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_profiles(session: AsyncSession) -> list[dict[str, Any]]:
    """Every stored profile JSON, ordered by branch id."""
    return list((await session.execute(select(branch_profiles.c.profile).order_by(branch_profiles.c.branch_id))).scalars())


async def get_load(session: AsyncSession, *, branch_id: str) -> RowMapping | None:
    """The last load snapshot row (``snapshot``, ``at``) of ``branch_id``, or ``None``."""
    return (await session.execute(select(branch_loads).where(branch_loads.c.branch_id == branch_id))).mappings().first()
