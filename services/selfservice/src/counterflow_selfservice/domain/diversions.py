"""Diverted customers expected at devices: accepted diversions become expectations; a
matching device transaction completes them, the expiry closes them as not completed."""

from __future__ import annotations

from datetime import timedelta

import structlog

from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionCompleted, DiversionExpired, closing_step
from counterflow_selfservice.domain.context import Ctx
from counterflow_selfservice.domain.models import DEVICE_CHANNELS
from counterflow_selfservice.persistence import devices as device_repo
from counterflow_selfservice.persistence import diversions as diversion_repo
from counterflow_selfservice.persistence import transactions as tx_repo
from counterflow_selfservice.persistence.diversions import ExpectedDiversion
from counterflow_selfservice.persistence.transactions import TransactionRecord

log = structlog.get_logger(__name__)

COMPLETED_BY = "selfservice"


async def expect(ctx: Ctx, accepted: DiversionAccepted) -> bool:
    """Expect the customer of an accepted diversion at its device.

    Diversions to other channels, without a device or to a device this service does
    not know are ignored. When the device already reported the matching transaction
    (it can arrive before the event), the diversion is completed at once.

    Returns:
        ``True`` when the diversion is now expected or completed here.
    """
    if accepted.channel not in DEVICE_CHANNELS or accepted.device_id is None:
        return False
    if not await device_repo.device_exists(ctx.session, accepted.device_id):
        log.warning("diversion.unknown_device", diversion_id=accepted.diversion_id, device_id=accepted.device_id)
        return False
    expires_at = accepted.expires_at or accepted.occurred_at + timedelta(seconds=ctx.settings.diversion_window_s)
    await diversion_repo.serialize_matching(ctx.session, accepted.device_id)
    inserted = await diversion_repo.insert(
        ctx.session,
        diversion_id=accepted.diversion_id,
        device_id=accepted.device_id,
        branch_id=accepted.branch_id,
        customer_id=accepted.customer_id,
        service_type=accepted.service_type,
        accepted=accepted.model_dump(mode="json"),
        accepted_at=accepted.occurred_at,
        expires_at=expires_at,
    )
    if not inserted:
        return True
    earlier = await tx_repo.find_unlinked_match(
        ctx.session,
        device_id=accepted.device_id,
        diversion_id=accepted.diversion_id,
        customer_id=accepted.customer_id,
        service_type=accepted.service_type,
        since=accepted.occurred_at,
        until=expires_at,
    )
    if earlier is not None:
        expected = await diversion_repo.claim_match(
            ctx.session,
            device_id=accepted.device_id,
            diversion_id=accepted.diversion_id,
            customer_id=None,
            service_type=accepted.service_type,
            at=earlier.occurred_at,
        )
        if expected is not None:
            await _complete(ctx, expected, earlier)
    return True


async def complete_for(ctx: Ctx, record: TransactionRecord) -> ExpectedDiversion | None:
    """Complete the expected diversion a successful transaction fulfils: the one it names
    (``diversion_id``), else the oldest open one of the same customer and service type at
    this device within its expiry. Publishes ``channel.diversion.completed``.

    Returns:
        the completed diversion, or ``None`` when the transaction matched none.
    """
    if not record.succeeded or (record.diversion_id is None and record.customer_id is None):
        return None  # nothing to match: an anonymous transaction pays no lock
    await diversion_repo.serialize_matching(ctx.session, record.device_id)
    expected = await diversion_repo.claim_match(
        ctx.session,
        device_id=record.device_id,
        diversion_id=record.diversion_id,
        customer_id=record.customer_id,
        service_type=record.service_type,
        at=record.occurred_at,
    )
    if expected is None:
        return None
    await _complete(ctx, expected, record)
    return expected


async def _complete(ctx: Ctx, expected: ExpectedDiversion, record: TransactionRecord) -> None:
    await diversion_repo.close(ctx.session, expected.diversion_id, status=diversion_repo.COMPLETED, at=ctx.now, transaction_id=record.transaction_id)
    payload = closing_step(DiversionCompleted, expected.accepted, at=record.occurred_at, transaction_id=record.transaction_id, completed_by=COMPLETED_BY)
    await ctx.publish(ctx.session, payload)
    log.info("diversion.completed", diversion_id=expected.diversion_id, device_id=expected.device_id, transaction_id=record.transaction_id)


async def expire_due(ctx: Ctx, *, limit: int = 200) -> int:
    """Close expected diversions whose expiry has passed and publish
    ``channel.diversion.expired`` for each. Returns how many expired."""
    due = await diversion_repo.claim_due(ctx.session, now=ctx.now, limit=limit)
    for expected in due:
        await diversion_repo.close(ctx.session, expected.diversion_id, status=diversion_repo.EXPIRED, at=ctx.now)
        payload = closing_step(DiversionExpired, expected.accepted, at=expected.expires_at)
        await ctx.publish(ctx.session, payload)
    if due:
        log.info("diversion.expired", count=len(due))
    return len(due)
