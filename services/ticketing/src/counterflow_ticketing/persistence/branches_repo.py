"""Queries on branches, opening hours, zones, service types, counters, teller sessions
and kiosks. Every SQL statement about the branch set-up lives here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, Table, bindparam, delete, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import (
    branch_services,
    branches,
    counters,
    kiosks,
    opening_hours,
    service_types,
    teller_sessions,
    zones,
)


async def get_branch(session: AsyncSession, branch_id: str, *, lock: bool = False) -> Row | None:
    """The branch row or ``None``; ``lock`` takes a row lock (``FOR UPDATE``)."""
    stmt = select(branches).where(branches.c.branch_id == branch_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def list_branches(session: AsyncSession) -> Sequence[Row]:
    """Every branch, by id."""
    return (await session.execute(select(branches).order_by(branches.c.branch_id))).all()


async def upsert_branch(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or update the branch ``values['branch_id']``."""
    stmt = insert(branches).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[branches.c.branch_id], set_={k: stmt.excluded[k] for k in values if k != "branch_id"}))


async def replace_opening_hours(session: AsyncSession, branch_id: str, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the branch's opening intervals with ``rows`` (weekday, opens, closes)."""
    await session.execute(delete(opening_hours).where(opening_hours.c.branch_id == branch_id))
    rows = [{"branch_id": branch_id, **r} for r in rows]
    if rows:
        await session.execute(insert(opening_hours), rows)


async def get_opening_hours(session: AsyncSession, branch_id: str) -> Sequence[Row]:
    """Opening intervals of the branch by weekday and opening time."""
    stmt = select(opening_hours).where(opening_hours.c.branch_id == branch_id).order_by(opening_hours.c.weekday, opening_hours.c.opens)
    return (await session.execute(stmt)).all()


async def replace_zones(session: AsyncSession, branch_id: str, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the branch's zones with ``rows`` (zone, name)."""
    await session.execute(delete(zones).where(zones.c.branch_id == branch_id))
    rows = [{"branch_id": branch_id, **r} for r in rows]
    if rows:
        await session.execute(insert(zones), rows)


async def get_zones(session: AsyncSession, branch_id: str) -> Sequence[Row]:
    """Zones of the branch."""
    return (await session.execute(select(zones).where(zones.c.branch_id == branch_id).order_by(zones.c.zone))).all()


async def upsert_service_type(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or update one service type of the catalog."""
    stmt = insert(service_types).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[service_types.c.service_type], set_={k: stmt.excluded[k] for k in values if k != "service_type"})
    )


async def list_service_types(session: AsyncSession) -> Sequence[Row]:
    """The whole service-type catalog."""
    return (await session.execute(select(service_types).order_by(service_types.c.service_type))).all()


async def get_service_type(session: AsyncSession, code: str) -> Row | None:
    """One service type or ``None``."""
    return (await session.execute(select(service_types).where(service_types.c.service_type == code))).first()


async def replace_branch_services(session: AsyncSession, branch_id: str, codes: Iterable[str]) -> None:
    """Set the service types the branch offers."""
    await session.execute(delete(branch_services).where(branch_services.c.branch_id == branch_id))
    rows = [{"branch_id": branch_id, "service_type": c} for c in codes]
    if rows:
        await session.execute(insert(branch_services), rows)


async def get_branch_services(session: AsyncSession, branch_id: str) -> Sequence[Row]:
    """Service types the branch offers, with their catalog data."""
    stmt = (
        select(service_types)
        .join(branch_services, branch_services.c.service_type == service_types.c.service_type)
        .where(branch_services.c.branch_id == branch_id)
        .order_by(service_types.c.service_type)
    )
    return (await session.execute(stmt)).all()


def _branch_and_service_statement() -> Select:
    """The statement behind :func:`branch_and_service` (parameters ``branch_id``,
    ``service_type``), built once: it runs on every ticket request."""
    branch_id, service_type = bindparam("branch_id", type_=String), bindparam("service_type", type_=String)
    offered = (
        select(service_types)
        .join(branch_services, branch_services.c.service_type == service_types.c.service_type)
        .where(branch_services.c.branch_id == branch_id, service_types.c.service_type == service_type)
        .subquery()
    )
    return select(branches, offered).select_from(branches.outerjoin(offered, literal(True))).where(branches.c.branch_id == branch_id)


_BRANCH_AND_SERVICE = _branch_and_service_statement()


async def branch_and_service(session: AsyncSession, branch_id: str, service_type: str) -> tuple[Row | None, Row | None]:
    """``(branch, service type)`` in one round trip: the branch row (``None`` when
    unknown) and the catalog row of ``service_type`` if the branch offers it (else ``None``)."""
    row = (await session.execute(_BRANCH_AND_SERVICE, {"branch_id": branch_id, "service_type": service_type})).first()
    if row is None:
        return None, None
    n = len(branches.c)
    st_values = tuple(row)[n:]
    st = _row_of(service_types, st_values) if st_values[0] is not None else None
    return _row_of(branches, tuple(row)[:n]), st


def _row_of(table: Any, values: tuple) -> Any:
    """A lightweight row with ``table``'s column names as attributes."""
    from types import SimpleNamespace

    return SimpleNamespace(**dict(zip(table.c.keys(), values, strict=True)))


async def _upsert_owned(session: AsyncSession, table: Table, key: str, values: dict[str, Any]) -> bool:
    """Insert a row of a branch-owned ``table`` or update it, in one statement that never
    moves the row to another branch: the update applies only where the stored
    ``branch_id`` is the given one, so two branches racing for a new id cannot both win.

    Returns:
        ``False`` when the id belongs to another branch (nothing written).
    """
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={k: stmt.excluded[k] for k in values if k not in (key, "branch_id")},
        where=table.c.branch_id == stmt.excluded.branch_id,
    ).returning(table.c[key])
    return (await session.execute(stmt)).first() is not None


async def upsert_counter(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert or update a counter (service point) of ``values["branch_id"]``; ``False``
    when the id belongs to another branch (see :func:`_upsert_owned`)."""
    return await _upsert_owned(session, counters, "counter_id", values)


async def get_counter(session: AsyncSession, counter_id: str) -> Row | None:
    """One counter or ``None``."""
    return (await session.execute(select(counters).where(counters.c.counter_id == counter_id))).first()


async def list_counters(session: AsyncSession, branch_id: str) -> Sequence[Row]:
    """Counters of the branch."""
    return (await session.execute(select(counters).where(counters.c.branch_id == branch_id).order_by(counters.c.counter_id))).all()


async def live_counters(session: AsyncSession, branch_id: str) -> Sequence[Row]:
    """Active counters of the branch with a live (open or paused) teller session."""
    stmt = (
        select(counters)
        .join(teller_sessions, teller_sessions.c.counter_id == counters.c.counter_id)
        .where(counters.c.branch_id == branch_id, counters.c.active.is_(True), teller_sessions.c.status != "closed")
        .order_by(counters.c.counter_id)
    )
    return (await session.execute(stmt)).all()


async def live_session_of_counter(session: AsyncSession, counter_id: str, *, lock: bool = False) -> Row | None:
    """The open or paused teller session at the counter, or ``None``."""
    stmt = select(teller_sessions).where(teller_sessions.c.counter_id == counter_id, teller_sessions.c.status != "closed")
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def insert_teller_session(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Open a session; ``False`` when the counter already has a live one (unique index)."""
    stmt = insert(teller_sessions).values(**values).on_conflict_do_nothing().returning(teller_sessions.c.session_id)
    return (await session.execute(stmt)).first() is not None


async def set_teller_session_status(session: AsyncSession, session_id: str, status: str, *, closed_at: datetime | None = None) -> None:
    """Change a session's status (``open``, ``paused``, ``closed``)."""
    values: dict[str, Any] = {"status": status}
    if closed_at is not None:
        values["closed_at"] = closed_at
    await session.execute(update(teller_sessions).where(teller_sessions.c.session_id == session_id).values(**values))


async def upsert_kiosk(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a kiosk credential of ``values["branch_id"]`` or re-key it (``secret_hash`` is
    an Argon2id hash); ``False`` when the id belongs to another branch (see
    :func:`_upsert_owned`)."""
    return await _upsert_owned(session, kiosks, "kiosk_id", values)


async def get_kiosk(session: AsyncSession, kiosk_id: str) -> Row | None:
    """One kiosk or ``None``."""
    return (await session.execute(select(kiosks).where(kiosks.c.kiosk_id == kiosk_id))).first()
