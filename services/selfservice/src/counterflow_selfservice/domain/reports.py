"""What devices report: heartbeats (status, counts, queue), transactions and
replenishments. Each report locks the device row (then its units) for the length of
the request's transaction, so reports of one device apply one after the other and a
count is never updated from a stale read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from counterflow_shared.events.payloads.devices import DeviceTransactionDone
from counterflow_shared.web.problems import invalid
from counterflow_selfservice.domain import cash, diversions, validation
from counterflow_selfservice.domain.context import Ctx
from counterflow_selfservice.domain.models import Device, ReportedStatus, TransactionKind
from counterflow_selfservice.domain.registry import get
from counterflow_selfservice.domain.state import refresh_demand_model, save_and_publish
from counterflow_selfservice.persistence import devices as device_repo
from counterflow_selfservice.persistence import transactions as tx_repo
from counterflow_selfservice.persistence.transactions import TransactionRecord

log = structlog.get_logger(__name__)

#: Amounts are kept to the cent (``NUMERIC(18, 2)``); finer amounts are refused, not rounded.
CENT = Decimal("0.01")


@dataclass
class Heartbeat:
    """A heartbeat: reported status, device clock time, customers at the device and
    the note count of each reported unit (``[(unit_id, count)]``)."""

    status: ReportedStatus
    sent_at: datetime
    queue_length: int
    counts: Sequence[tuple[str, int]]


async def _settle(ctx: Ctx, device: Device) -> None:
    """Refit the demand model when due, save the device, publish if it changed."""
    await refresh_demand_model(ctx, device)
    await save_and_publish(ctx, device)


async def heartbeat(ctx: Ctx, device_id: str, beat: Heartbeat) -> Device:
    """Apply a heartbeat: the device is online again, its reported status, queue and
    unit counts (the device's own counters are authoritative) replace the stored ones.

    Raises:
        Problem: 422 for a ``sent_at`` more than ``max_clock_skew_s`` away from now
            (either way), an unknown unit or a count above the unit's capacity (nothing
            is changed).
    """
    # a heartbeat is about now: one delayed beyond the clock skew bound must not bring a
    # silent device back online
    validation.check_report_time("body.sent_at", beat.sent_at, ctx.now, max_skew_s=ctx.settings.max_clock_skew_s, max_age_s=ctx.settings.max_clock_skew_s)
    device = await get(ctx, device_id, lock=True)
    counts = validation.check_unit_counts(device, beat.counts, "body.cash_units")
    changed = {u: c for u, c in counts.items() if device.unit(u).count != c}  # type: ignore[union-attr]
    for unit_id, count in changed.items():
        device.unit(unit_id).count = count  # type: ignore[union-attr]
    await device_repo.set_counts(ctx.session, device_id, changed)
    device.reported_status = beat.status
    device.queue_length = beat.queue_length
    device.offline = False
    device.last_heartbeat_at = ctx.now
    await _settle(ctx, device)
    return device


@dataclass
class TransactionReport:
    """A transaction as the device reports it. ``notes`` (``[(unit_id, count)]``) says
    which units paid or took the notes; for withdrawals it may be omitted and the
    service plans the dispense (largest notes first)."""

    transaction_id: str
    kind: TransactionKind
    amount: Decimal | None
    currency: str | None
    notes: Sequence[tuple[str, int]] | None
    customer_id: str | None
    diversion_id: str | None
    occurred_at: datetime


@dataclass
class TransactionOutcome:
    """The recorded transaction; ``replayed`` when the device had reported it before."""

    record: TransactionRecord
    replayed: bool = False


def _check_transaction(device: Device, report: TransactionReport, ctx: Ctx) -> dict[str, int] | None:
    """Input checks that need the device; returns the notes per unit (or ``None``)."""
    validation.check_report_time("body.occurred_at", report.occurred_at, ctx.now, max_skew_s=ctx.settings.max_clock_skew_s, max_age_s=ctx.settings.max_report_age_s)
    service_type = report.kind.service_type
    if service_type not in device.capabilities.service_types:
        raise invalid("body.kind", f"device {device.device_id} does not offer {service_type}")
    if not report.kind.needs_amount:
        if report.amount is not None or report.notes:
            raise invalid("body.amount", f"a {report.kind.value} has no amount")
        return None
    if report.amount is None:
        raise invalid("body.amount", f"required for a {report.kind.value}")
    if report.amount != report.amount.quantize(CENT):
        raise invalid("body.amount", "at most two decimal places")
    if report.currency is None:
        raise invalid("body.currency", f"required for a {report.kind.value}")
    if device.capabilities.currencies and report.currency not in device.capabilities.currencies:
        raise invalid("body.currency", f"device {device.device_id} does not handle {report.currency}")
    limit = device.capabilities.max_amount.get(report.currency)
    if limit is not None and report.amount > limit:
        raise invalid("body.amount", f"{report.amount} exceeds the device's limit of {limit} {report.currency}")
    if not report.kind.moves_cash:
        if report.notes:
            raise invalid("body.notes", f"a {report.kind.value} moves no notes")
        return None
    if report.notes is None:
        if report.kind is TransactionKind.DEPOSIT:
            raise invalid("body.notes", "a deposit must say which units took the notes")
        return None
    notes: dict[str, int] = {}
    for i, (unit_id, count) in enumerate(report.notes):
        unit = device.unit(unit_id)
        if unit is None:
            raise invalid(f"body.notes.{i}.unit_id", f"device {device.device_id} has no cash unit {unit_id!r}")
        if unit_id in notes:
            raise invalid(f"body.notes.{i}.unit_id", f"cash unit {unit_id!r} listed twice")
        if unit.currency != report.currency:
            raise invalid(f"body.notes.{i}.unit_id", f"cash unit {unit_id} holds {unit.currency}, not {report.currency}")
        if report.kind is TransactionKind.DEPOSIT and unit.count + count > unit.capacity:
            raise invalid(f"body.notes.{i}.count", f"unit {unit_id} holds {unit.count} of {unit.capacity} notes; {count} more do not fit")
        notes[unit_id] = count
    units = {u.unit_id: u for u in device.cash_units}
    if cash.notes_value(units, notes) != report.amount:
        raise invalid("body.notes", f"the notes are worth {cash.notes_value(units, notes)}, not {report.amount}")
    return notes


async def record_transaction(ctx: Ctx, device_id: str, report: TransactionReport) -> TransactionOutcome:
    """Record a transaction at a device and move its notes.

    A withdrawal the units cannot pay is recorded as refused (``succeeded`` false, with
    the reason) and published as such; its counts do not change. A successful
    transaction completes the diversion it fulfils. The same transaction id reported
    again returns the first outcome without a second effect.

    Raises:
        Problem: 422 for input that contradicts the device (unsupported kind, currency
            or limit, unknown unit, notes not worth the amount, deposit overflowing a
            unit, time out of range); nothing is written.
    """
    device = await get(ctx, device_id, lock=True)
    previous = await tx_repo.get(ctx.session, device_id, report.transaction_id)
    if previous is not None:
        return TransactionOutcome(previous, replayed=True)
    notes = _check_transaction(device, report, ctx)
    units = {u.unit_id: u for u in device.cash_units}
    refusal: str | None = None
    if report.kind is TransactionKind.WITHDRAWAL:
        assert report.amount is not None and report.currency is not None
        try:
            if notes is None:
                notes = cash.plan_dispense(device.cash_units, report.currency, report.amount)
            else:
                cash.check_dispense(units, notes)
        except cash.InsufficientCash as exc:
            refusal = str(exc)
    succeeded = refusal is None
    if succeeded and notes:
        sign = -1 if report.kind is TransactionKind.WITHDRAWAL else 1
        for unit_id, count in notes.items():
            units[unit_id].count += sign * count
        await device_repo.set_counts(ctx.session, device_id, {u: units[u].count for u in notes})
    record = TransactionRecord(
        transaction_id=report.transaction_id,
        device_id=device_id,
        branch_id=device.branch_id,
        kind=report.kind.value,
        service_type=report.kind.service_type,
        amount=report.amount.quantize(CENT) if report.amount is not None else None,
        currency=report.currency,
        notes=notes if succeeded else None,
        customer_id=report.customer_id,
        diversion_id=report.diversion_id,
        succeeded=succeeded,
        refusal=refusal,
        occurred_at=report.occurred_at,
    )
    await tx_repo.insert_new(ctx.session, record)
    await ctx.publish(ctx.session, transaction_done(record))
    if succeeded:
        await diversions.complete_for(ctx, record)
    else:
        log.info("transaction.refused", device_id=device_id, transaction_id=report.transaction_id, reason=refusal)
    await _settle(ctx, device)
    return TransactionOutcome(record)


def transaction_done(record: TransactionRecord) -> DeviceTransactionDone:
    """The ``selfservice.transaction.done`` payload of a recorded transaction (the
    payload ignores the fields it does not carry: notes, refusal)."""
    return DeviceTransactionDone.model_validate(asdict(record))


async def replenish(ctx: Ctx, device_id: str, counts: Sequence[tuple[str, int]], replenished_at: datetime) -> Device:
    """Record a replenishment: the listed units now hold the given counts (cassettes
    swapped or topped up). Each unit's before/after count is kept.

    Raises:
        Problem: 422 for an unknown unit, a count above capacity or a time out of range.
    """
    validation.check_report_time("body.replenished_at", replenished_at, ctx.now, max_skew_s=ctx.settings.max_clock_skew_s, max_age_s=ctx.settings.max_report_age_s)
    device = await get(ctx, device_id, lock=True)
    new_counts = validation.check_unit_counts(device, counts, "body.cash_units")
    for unit_id, count in new_counts.items():
        unit = device.unit(unit_id)
        assert unit is not None
        await tx_repo.insert_replenishment(ctx.session, device_id=device_id, unit_id=unit_id, before=unit.count, after=count, at=replenished_at)
        unit.count = count
    await device_repo.set_counts(ctx.session, device_id, new_counts)
    await _settle(ctx, device)
    return device


async def mark_silent_offline(ctx: Ctx, *, limit: int = 200) -> list[str]:
    """The offline watchdog's round: every device not heard from for
    ``heartbeat_timeout_s`` seconds becomes offline and its state is published.

    Returns:
        the ids of the devices marked offline.
    """
    cutoff = ctx.now - timedelta(seconds=ctx.settings.heartbeat_timeout_s)
    ids = await device_repo.claim_silent(ctx.session, heard_before=cutoff, limit=limit)
    for device_id in ids:
        device = await get(ctx, device_id, lock=True)
        device.offline = True
        await save_and_publish(ctx, device)
        log.warning("device.offline", device_id=device_id, last_heartbeat_at=device.last_heartbeat_at.isoformat() if device.last_heartbeat_at else None)
    return ids
