"""Repository of device transactions and replenishments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, case, cast, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_selfservice.domain.models import TransactionKind
from counterflow_selfservice.persistence.tables import device_transactions, replenishments


@dataclass
class TransactionRecord:
    """A recorded device transaction (what the API returns and events carry)."""

    transaction_id: str
    device_id: str
    branch_id: str
    kind: str
    service_type: str
    amount: Decimal | None
    currency: str | None
    notes: dict[str, int] | None
    customer_id: str | None
    diversion_id: str | None
    succeeded: bool
    refusal: str | None
    occurred_at: datetime


def _record(row: Any) -> TransactionRecord:
    values = {f.name: getattr(row, f.name) for f in fields(TransactionRecord)}
    if values["amount"] is not None:
        values["amount"] = Decimal(values["amount"])
    return TransactionRecord(**values)


async def insert_new(session: AsyncSession, record: TransactionRecord) -> bool:
    """Insert ``record`` unless the device already reported this transaction id.

    A concurrent duplicate blocks on the primary key until the first commits, then
    finds it (one effect per transaction id, whatever the retries).

    Returns:
        ``True`` when inserted, ``False`` for a duplicate.
    """
    stmt = (
        postgresql.insert(device_transactions)
        .values(**asdict(record))
        .on_conflict_do_nothing()
        .returning(device_transactions.c.transaction_id)
    )
    return (await session.execute(stmt)).first() is not None


async def mark_outcome(session: AsyncSession, device_id: str, transaction_id: str, *, succeeded: bool, refusal: str | None, notes: Mapping[str, int] | None) -> None:
    """Record how the transaction ended (refusal text when refused; notes per unit)."""
    await session.execute(
        update(device_transactions)
        .where(device_transactions.c.device_id == device_id, device_transactions.c.transaction_id == transaction_id)
        .values(succeeded=succeeded, refusal=refusal, notes=dict(notes) if notes is not None else None)
    )


async def get(session: AsyncSession, device_id: str, transaction_id: str) -> TransactionRecord | None:
    """A transaction of a device, or ``None``."""
    row = (
        await session.execute(
            select(device_transactions).where(device_transactions.c.device_id == device_id, device_transactions.c.transaction_id == transaction_id)
        )
    ).first()
    return None if row is None else _record(row)


async def list_for_device(session: AsyncSession, device_id: str, *, limit: int = 100, before: datetime | None = None) -> list[TransactionRecord]:
    """The device's transactions, newest first (``before``: strictly older than)."""
    t = device_transactions
    stmt = select(t).where(t.c.device_id == device_id).order_by(t.c.occurred_at.desc(), t.c.transaction_id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(t.c.occurred_at < before)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def list_for_branch(session: AsyncSession, branch_id: str, *, limit: int = 50) -> list[TransactionRecord]:
    """The branch's latest transactions at any device, newest first."""
    t = device_transactions
    stmt = select(t).where(t.c.branch_id == branch_id).order_by(t.c.occurred_at.desc(), t.c.transaction_id.desc()).limit(limit)
    return [_record(r) for r in (await session.execute(stmt)).all()]


async def daily_net_withdrawals(session: AsyncSession, device_id: str, currency: str, time_zone: str, since: datetime) -> dict[date, float]:
    """Successful withdrawals minus deposits per local day since ``since`` (major units).

    Days are taken in ``time_zone`` (the branch's IANA zone) by PostgreSQL's
    ``AT TIME ZONE``.
    """
    t = device_transactions
    local_day = cast(func.timezone(time_zone, t.c.occurred_at), Date)
    amount = case((t.c.kind == TransactionKind.WITHDRAWAL.value, t.c.amount), else_=-t.c.amount)
    stmt = (
        select(local_day.label("day"), func.sum(amount).label("net"))
        .where(
            t.c.device_id == device_id,
            t.c.succeeded.is_(True),
            t.c.currency == currency,
            t.c.kind.in_([TransactionKind.WITHDRAWAL.value, TransactionKind.DEPOSIT.value]),
            t.c.occurred_at >= since,
        )
        .group_by(local_day)
    )
    return {r.day: float(r.net) for r in (await session.execute(stmt)).all()}


async def first_activity(session: AsyncSession, device_id: str) -> datetime | None:
    """Time of the device's first transaction, or ``None``."""
    return (await session.execute(select(func.min(device_transactions.c.occurred_at)).where(device_transactions.c.device_id == device_id))).scalar_one()


async def recent_withdrawal_amounts(session: AsyncSession, device_id: str, currency: str, *, limit: int = 200) -> list[Decimal]:
    """Amounts of the device's last ``limit`` successful withdrawals in ``currency``."""
    t = device_transactions
    rows = (
        await session.execute(
            select(t.c.amount)
            .where(t.c.device_id == device_id, t.c.currency == currency, t.c.kind == TransactionKind.WITHDRAWAL.value, t.c.succeeded.is_(True))
            .order_by(t.c.occurred_at.desc())
            .limit(limit)
        )
    ).all()
    return [Decimal(r.amount) for r in rows if r.amount is not None]


async def find_unlinked_match(
    session: AsyncSession, *, device_id: str, diversion_id: str, customer_id: str | None, service_type: str, since: datetime, until: datetime
) -> TransactionRecord | None:
    """A successful transaction at ``device_id`` that carries ``diversion_id``, or (when
    ``customer_id`` is given) one of that customer with ``service_type`` between
    ``since`` and ``until``: the device reported it before the accepted diversion
    arrived. Oldest first."""
    t = device_transactions
    by_id = t.c.diversion_id == diversion_id
    cond = by_id
    if customer_id is not None:
        cond = by_id | ((t.c.customer_id == customer_id) & (t.c.service_type == service_type) & t.c.diversion_id.is_(None))
    row = (
        await session.execute(
            select(t)
            .where(t.c.device_id == device_id, t.c.succeeded.is_(True), cond, t.c.occurred_at >= since, t.c.occurred_at <= until)
            .order_by(t.c.occurred_at)
            .limit(1)
        )
    ).first()
    return None if row is None else _record(row)


async def insert_replenishment(session: AsyncSession, *, device_id: str, unit_id: str, before: int, after: int, at: datetime) -> None:
    """Record one unit's replenishment (count before and after)."""
    await session.execute(
        replenishments.insert().values(device_id=device_id, unit_id=unit_id, count_before=before, count_after=after, replenished_at=at)
    )


async def list_replenishments(session: AsyncSession, device_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The device's latest replenishments, newest first."""
    rows = (
        await session.execute(
            select(replenishments).where(replenishments.c.device_id == device_id).order_by(replenishments.c.replenished_at.desc(), replenishments.c.id.desc()).limit(limit)
        )
    ).all()
    return [
        {"unit_id": r.unit_id, "count_before": r.count_before, "count_after": r.count_after, "replenished_at": r.replenished_at}
        for r in rows
    ]
