"""Closing the loop of app-side diversions (issue 17): every accepted ``mobile`` or
``appointment`` diversion ends with exactly one ``channel.diversion.completed`` or
``channel.diversion.expired`` published by the gateway, the step ticketing counts.

* ``mobile``: the hand-off draft (:mod:`.drafts`) completed -> ``completed``
  (``completed_by="mobile"``); the draft expired -> ``expired``.
* ``appointment``: the customer books an appointment at the offer's branch before the
  offer's ``expires_at`` -> ``completed`` (``completed_by="appointment"``); otherwise
  ``expired`` when ``expires_at`` passes.

The closing step is built from the stored ``accepted`` step
(:func:`counterflow_shared.events.payloads.diversions.closing_step`), so it names the
rule set version and rule that produced the offer.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionCompleted, DiversionExpired, closing_step
from counterflow_mobile_gateway.persistence import handoffs as repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

APPOINTMENT_CHANNEL = "appointment"


async def publish_closing(session: AsyncSession, runtime: "ServiceRuntime", accepted: dict[str, Any] | None, *, completed: bool, at: datetime, **extra: Any) -> None:
    """Publish the closing step of the diversion whose accepted step is ``accepted``;
    nothing for drafts made before the gateway kept that step (``None``)."""
    if accepted is None:
        return
    cls = DiversionCompleted if completed else DiversionExpired
    await runtime.publish(session, closing_step(cls, accepted, at=at, **extra), time=at)


async def expect_booking(session: AsyncSession, event: DiversionAccepted, *, now: datetime) -> bool:
    """Wait for the booking of an accepted ``appointment`` diversion (once per diversion);
    other channels and anonymous customers are ignored. ``True`` when newly recorded."""
    if event.channel != APPOINTMENT_CHANNEL or not event.customer_id:
        return False
    return await repo.add(
        session,
        diversion_id=event.diversion_id,
        customer_id=event.customer_id,
        branch_id=event.branch_id,
        service_type=event.service_type,
        accepted=event.model_dump(mode="json"),
        expires_at=event.expires_at or now,
    )


async def on_booked(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, branch_id: str, service_type: str, appointment_id: str, now: datetime) -> str | None:
    """A booking completes the customer's open appointment hand-off at ``branch_id`` (if
    any); returns the completed diversion id."""
    row = await repo.claim_open(session, customer_id=customer_id, branch_id=branch_id, service_type=service_type, now=now)
    if row is None:
        return None
    await repo.close(session, diversion_id=row["diversion_id"], status="completed", at=now, appointment_id=appointment_id)
    await publish_closing(session, runtime, row["accepted"], completed=True, at=now, completed_by="appointment")
    return row["diversion_id"]


async def expire_overdue(session: AsyncSession, runtime: "ServiceRuntime", *, now: datetime) -> int:
    """Expire hand-offs nobody booked by ``expires_at``; returns how many."""
    rows = await repo.overdue(session, now=now)
    for row in rows:
        await repo.close(session, diversion_id=row["diversion_id"], status="expired", at=row["expires_at"])
        await publish_closing(session, runtime, row["accepted"], completed=False, at=row["expires_at"])
    return len(rows)
