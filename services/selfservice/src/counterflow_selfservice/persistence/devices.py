"""Repository of devices and their cash units (every device SQL query lives here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_selfservice.domain.models import (
    Capabilities,
    CashUnit,
    DemandModel,
    Device,
    DeviceKind,
    ReportedStatus,
)
from counterflow_selfservice.persistence.tables import cash_units, devices


def capabilities_to_json(c: Capabilities) -> dict[str, Any]:
    """JSON column form of :class:`Capabilities` (amounts as strings)."""
    return {
        "service_types": list(c.service_types),
        "max_amount": {k: str(v) for k, v in c.max_amount.items()},
        "denominations": [str(d) for d in c.denominations],
        "currencies": list(c.currencies),
    }


def capabilities_from_json(doc: Mapping[str, Any]) -> Capabilities:
    """Inverse of :func:`capabilities_to_json`."""
    return Capabilities(
        service_types=list(doc.get("service_types", [])),
        max_amount={k: Decimal(v) for k, v in (doc.get("max_amount") or {}).items()},
        denominations=[Decimal(d) for d in doc.get("denominations", [])],
        currencies=list(doc.get("currencies", [])),
    )


def _unit(row: Any) -> CashUnit:
    return CashUnit(
        unit_id=row.unit_id,
        currency=row.currency,
        denomination=Decimal(row.denomination),
        capacity=row.capacity,
        low_threshold=row.low_threshold,
        full_threshold=row.full_threshold,
        count=row.count,
    )


def _device(row: Any, units: list[CashUnit]) -> Device:
    return Device(
        device_id=row.device_id,
        branch_id=row.branch_id,
        zone=row.zone,
        kind=DeviceKind(row.kind),
        accessible=row.accessible,
        capabilities=capabilities_from_json(row.capabilities),
        time_zone=row.time_zone,
        opening_hours=row.opening_hours,
        reported_status=ReportedStatus(row.reported_status),
        offline=row.offline,
        retired=row.retired_at is not None,
        last_heartbeat_at=row.last_heartbeat_at,
        queue_length=row.queue_length,
        typical_withdrawal=Decimal(row.typical_withdrawal) if row.typical_withdrawal is not None else None,
        demand_model=DemandModel.from_json(row.demand_model) if row.demand_model else None,
        cash_units=units,
        published_fingerprint=row.state_fingerprint,
    )


async def insert_device(session: AsyncSession, device: Device, *, secret_hash: str, now: datetime) -> None:
    """Insert a new device row and its cash units."""
    await session.execute(
        devices.insert().values(
            device_id=device.device_id,
            branch_id=device.branch_id,
            zone=device.zone,
            kind=device.kind.value,
            accessible=device.accessible,
            capabilities=capabilities_to_json(device.capabilities),
            time_zone=device.time_zone,
            opening_hours=device.opening_hours,
            typical_withdrawal=device.typical_withdrawal,
            secret_hash=secret_hash,
            reported_status=device.reported_status.value,
            offline=device.offline,
            queue_length=0,
            created_at=now,
            updated_at=now,
        )
    )
    await replace_units(session, device.device_id, device.cash_units)


async def device_exists(session: AsyncSession, device_id: str) -> bool:
    """Whether a device row (retired or not) exists."""
    return (await session.execute(select(devices.c.device_id).where(devices.c.device_id == device_id))).first() is not None


async def credentials(session: AsyncSession, device_id: str) -> tuple[str, bool] | None:
    """``(secret_hash, retired)`` of a device, or ``None`` when unknown."""
    row = (await session.execute(select(devices.c.secret_hash, devices.c.retired_at).where(devices.c.device_id == device_id))).first()
    return None if row is None else (row.secret_hash, row.retired_at is not None)


async def load(session: AsyncSession, device_id: str, *, lock: bool = False) -> Device | None:
    """The device with its cash units, or ``None``.

    With ``lock`` the device row is locked ``FOR UPDATE`` for the transaction: every
    writer of a device or of its units takes this lock first, so reports of one device
    apply one after another and never deadlock. The units are read by a second statement
    on purpose: under READ COMMITTED that statement takes a fresh snapshot after the lock
    was granted. A single ``JOIN ... FOR UPDATE OF devices`` would re-check only the
    locked row after waiting and return the units as they were before the previous
    holder's commit (PostgreSQL docs, "13.2.1 Read Committed Isolation Level") -- lost
    updates, which the concurrent-withdrawal test catches.
    """
    stmt = select(devices).where(devices.c.device_id == device_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    ustmt = select(cash_units).where(cash_units.c.device_id == device_id).order_by(cash_units.c.unit_id)
    units = [_unit(u) for u in (await session.execute(ustmt)).all()]
    return _device(row, units)


async def list_devices(
    session: AsyncSession,
    *,
    branch_ids: Sequence[str] | None = None,
    kind: str | None = None,
    zone: str | None = None,
    include_retired: bool = False,
    limit: int = 500,
    after: str | None = None,
) -> list[Device]:
    """Devices ordered by id (keyset pagination with ``after``), with their units."""
    stmt = select(devices).order_by(devices.c.device_id).limit(limit)
    if branch_ids is not None:
        stmt = stmt.where(devices.c.branch_id.in_(list(branch_ids)))
    if kind:
        stmt = stmt.where(devices.c.kind == kind)
    if zone:
        stmt = stmt.where(devices.c.zone == zone)
    if not include_retired:
        stmt = stmt.where(devices.c.retired_at.is_(None))
    if after:
        stmt = stmt.where(devices.c.device_id > after)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    ids = [r.device_id for r in rows]
    units: dict[str, list[CashUnit]] = {i: [] for i in ids}
    for u in (await session.execute(select(cash_units).where(cash_units.c.device_id.in_(ids)).order_by(cash_units.c.unit_id))).all():
        units[u.device_id].append(_unit(u))
    return [_device(r, units[r.device_id]) for r in rows]


async def save(session: AsyncSession, device: Device, *, now: datetime, **extra: Any) -> None:
    """Write the mutable fields of ``device`` (not its units) plus ``extra`` columns."""
    await session.execute(
        update(devices)
        .where(devices.c.device_id == device.device_id)
        .values(
            zone=device.zone,
            accessible=device.accessible,
            capabilities=capabilities_to_json(device.capabilities),
            time_zone=device.time_zone,
            opening_hours=device.opening_hours,
            typical_withdrawal=device.typical_withdrawal,
            reported_status=device.reported_status.value,
            offline=device.offline,
            last_heartbeat_at=device.last_heartbeat_at,
            queue_length=device.queue_length,
            demand_model=device.demand_model.to_json() if device.demand_model else None,
            updated_at=now,
            **extra,
        )
    )


async def replace_units(session: AsyncSession, device_id: str, units: Iterable[CashUnit]) -> None:
    """Replace the cash unit configuration of a device."""
    await session.execute(cash_units.delete().where(cash_units.c.device_id == device_id))
    rows = [
        {
            "device_id": device_id,
            "unit_id": u.unit_id,
            "currency": u.currency,
            "denomination": u.denomination,
            "capacity": u.capacity,
            "low_threshold": u.low_threshold,
            "full_threshold": u.full_threshold,
            "count": u.count,
        }
        for u in units
    ]
    if rows:
        await session.execute(cash_units.insert(), rows)


async def set_counts(session: AsyncSession, device_id: str, counts: Mapping[str, int]) -> None:
    """Set the note count of the given units (the caller holds the units' locks)."""
    if not counts:
        return
    stmt = (
        update(cash_units)
        .where(cash_units.c.device_id == bindparam("d"), cash_units.c.unit_id == bindparam("u"))
        .values(count=bindparam("c"))
    )
    await session.execute(stmt, [{"d": device_id, "u": u, "c": c} for u, c in counts.items()])


async def set_secret(session: AsyncSession, device_id: str, secret_hash: str, now: datetime) -> None:
    """Replace the stored secret hash (credential rotation)."""
    await session.execute(update(devices).where(devices.c.device_id == device_id).values(secret_hash=secret_hash, updated_at=now))


async def claim_silent(session: AsyncSession, *, heard_before: datetime, limit: int = 200) -> list[str]:
    """Ids of online (not yet offline, not retired) devices last heard before
    ``heard_before`` (or never heard), locked ``FOR UPDATE SKIP LOCKED`` so several
    watchdogs never mark the same device twice."""
    stmt = (
        select(devices.c.device_id)
        .where(devices.c.offline.is_(False), devices.c.retired_at.is_(None))
        .where((devices.c.last_heartbeat_at < heard_before) | devices.c.last_heartbeat_at.is_(None))
        .order_by(devices.c.device_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [r.device_id for r in (await session.execute(stmt)).all()]
