"""Repository of diverted customers expected at devices."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_selfservice.persistence.tables import expected_diversions

EXPECTED = "expected"
COMPLETED = "completed"
EXPIRED = "expired"


@dataclass
class ExpectedDiversion:
    """An accepted diversion to a device. ``accepted`` is the accepted event's payload
    (JSON form), reused to publish the completion or expiry with the same facts."""

    diversion_id: str
    device_id: str
    customer_id: str | None
    service_type: str
    accepted: dict[str, Any]
    accepted_at: datetime
    expires_at: datetime
    status: str


def _expected(row: Any) -> ExpectedDiversion:
    return ExpectedDiversion(**{f.name: getattr(row, f.name) for f in fields(ExpectedDiversion)})


async def serialize_matching(session: AsyncSession, device_id: str) -> None:
    """Serialise, until the transaction ends, the two ways a diversion meets its
    transaction at ``device_id`` (the accepted event arriving, a transaction reported):
    without it each transaction can miss the other's uncommitted row and the diversion is
    never completed (seen end to end, issue 17). A transaction-scoped advisory lock on the
    device, one round trip."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("diversion-match:" + device_id))))


async def insert(session: AsyncSession, *, diversion_id: str, device_id: str, branch_id: str, customer_id: str | None, service_type: str, accepted: dict[str, Any], accepted_at: datetime, expires_at: datetime) -> bool:
    """Expect the diverted customer; ``False`` when the diversion is already known."""
    stmt = (
        postgresql.insert(expected_diversions)
        .values(
            diversion_id=diversion_id,
            device_id=device_id,
            branch_id=branch_id,
            customer_id=customer_id,
            service_type=service_type,
            accepted=accepted,
            accepted_at=accepted_at,
            expires_at=expires_at,
            status=EXPECTED,
        )
        .on_conflict_do_nothing()
        .returning(expected_diversions.c.diversion_id)
    )
    return (await session.execute(stmt)).first() is not None


async def claim_match(session: AsyncSession, *, device_id: str, diversion_id: str | None, customer_id: str | None, service_type: str, at: datetime) -> ExpectedDiversion | None:
    """The open expected diversion a transaction at ``device_id`` at time ``at``
    completes: the one named by ``diversion_id``, else the oldest one of the same
    customer and service type not yet expired at ``at``. Locked ``FOR UPDATE``."""
    e = expected_diversions
    base = select(e).where(e.c.device_id == device_id, e.c.status == EXPECTED).with_for_update()
    if diversion_id is not None:
        row = (await session.execute(base.where(e.c.diversion_id == diversion_id))).first()
        if row is not None:
            return _expected(row)
    if customer_id is None:
        return None
    row = (
        await session.execute(
            base.where(e.c.customer_id == customer_id, e.c.service_type == service_type, e.c.accepted_at <= at, e.c.expires_at >= at)
            .order_by(e.c.accepted_at)
            .limit(1)
        )
    ).first()
    return None if row is None else _expected(row)


async def close(session: AsyncSession, diversion_id: str, *, status: str, at: datetime, transaction_id: str | None = None) -> None:
    """Close an expected diversion as completed (with the transaction) or expired."""
    await session.execute(
        update(expected_diversions)
        .where(expected_diversions.c.diversion_id == diversion_id)
        .values(status=status, closed_at=at, transaction_id=transaction_id)
    )


async def claim_due(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[ExpectedDiversion]:
    """Open expected diversions whose expiry has passed, locked ``SKIP LOCKED``."""
    e = expected_diversions
    rows = (
        await session.execute(
            select(e).where(e.c.status == EXPECTED, e.c.expires_at < now).order_by(e.c.expires_at).limit(limit).with_for_update(skip_locked=True)
        )
    ).all()
    return [_expected(r) for r in rows]


async def get(session: AsyncSession, diversion_id: str) -> ExpectedDiversion | None:
    """An expected diversion by id, or ``None``."""
    row = (await session.execute(select(expected_diversions).where(expected_diversions.c.diversion_id == diversion_id))).first()
    return None if row is None else _expected(row)


async def count_open(session: AsyncSession, device_id: str) -> int:
    """How many diverted customers are expected at the device now."""
    e = expected_diversions
    return int((await session.execute(select(func.count()).select_from(e).where(e.c.device_id == device_id, e.c.status == EXPECTED))).scalar_one())
