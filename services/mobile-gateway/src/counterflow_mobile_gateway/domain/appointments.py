"""Appointments: free slots, book, reschedule, cancel. Check-in at the kiosk arrives as
a ``TicketIssued`` with ``appointment_id`` (see :mod:`.tickets`).

Capacity is counted per branch, service type and slot: ``appointment_capacity_per_slot``
of the branch profile appointments may start in the same slot for the same service type.
Bookings in one branch are serialised by locking the branch's profile row, so two
customers cannot both take the last place of a slot.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.mobile import AppointmentBooked, AppointmentCancelled, AppointmentRescheduled
from counterflow_shared.web.problems import conflict, invalid, not_found
from counterflow_mobile_gateway.domain import branches, handoffs
from counterflow_mobile_gateway.domain.slots import Slot, day_slots, find_slot, free_slots
from counterflow_mobile_gateway.persistence import appointments as repo

if TYPE_CHECKING:
    from counterflow_shared.events.payloads.branches import BranchProfile
    from counterflow_shared.runtime import ServiceRuntime


def appointment_view(row: Any) -> dict[str, Any]:
    """JSON-ready form of an appointment (times ISO 8601 UTC)."""
    return {
        "appointment_id": row["appointment_id"],
        "branch_id": row["branch_id"],
        "service_type": row["service_type"],
        "starts_at": row["starts_at"].isoformat(),
        "ends_at": row["ends_at"].isoformat(),
        "status": row["status"],
        "ticket_id": row["ticket_id"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def slot_view(slot: Slot, free: int) -> dict[str, Any]:
    """JSON-ready slot: UTC instants, the branch-local start with its offset, free places."""
    return {"starts_at": slot.starts_at.isoformat(), "ends_at": slot.ends_at.isoformat(), "local_start": slot.local_start.isoformat(), "free": free}


async def slots_for_day(session: AsyncSession, runtime: "ServiceRuntime", *, branch_id: str, service_type: str, day: date, now: datetime) -> dict[str, Any]:
    """Free slots of branch-local calendar ``day`` for ``service_type``.

    Slots earlier than ``now + appointment_min_lead_s`` are not offered; days beyond
    ``appointment_horizon_days`` give a 422.

    Raises:
        Problem: 404 unknown branch; 422 (``query.service_type`` / ``query.date``).
    """
    profile = await branches.profile_of(session, branch_id)
    branches.require_service(profile, service_type, field="query.service_type")
    today = now.astimezone(ZoneInfo(profile.time_zone)).date()
    if day > today + timedelta(days=runtime.settings.appointment_horizon_days):
        raise invalid("query.date", f"appointments can be booked at most {runtime.settings.appointment_horizon_days} days ahead")
    slots = day_slots(profile, day)
    booked = {}
    if slots:
        booked = await repo.booked_counts(session, branch_id=branch_id, service_type=service_type, start=slots[0].starts_at, end=slots[-1].ends_at)
    not_before = now + timedelta(seconds=runtime.settings.appointment_min_lead_s)
    return {
        "branch_id": branch_id,
        "service_type": service_type,
        "date": day.isoformat(),
        "time_zone": profile.time_zone,
        "slots": [slot_view(s, f) for s, f in free_slots(slots, booked, not_before=not_before)],
    }


async def _take_slot(session: AsyncSession, runtime: "ServiceRuntime", profile: "BranchProfile", *, service_type: str, starts_at: datetime, now: datetime, exclude_id: str | None = None) -> Slot:
    """The slot starting at ``starts_at`` if it is bookable now and has a free place.

    Raises:
        Problem: 422 ``body.starts_at`` not a slot / too soon / too far; 409 ``slot-full``.
    """
    if starts_at.tzinfo is None:
        raise invalid("body.starts_at", "must carry a UTC offset (e.g. 2024-03-31T08:00:00Z)")
    slot = find_slot(profile, starts_at)
    if slot is None:
        raise invalid("body.starts_at", f"no appointment slot of branch {profile.branch_id} starts at {starts_at.isoformat()}")
    s = runtime.settings
    if slot.starts_at < now + timedelta(seconds=s.appointment_min_lead_s):
        raise invalid("body.starts_at", f"slots must start at least {int(s.appointment_min_lead_s)} s from now")
    if slot.starts_at > now + timedelta(days=s.appointment_horizon_days + 1):
        raise invalid("body.starts_at", f"appointments can be booked at most {s.appointment_horizon_days} days ahead")
    booked = await repo.booked_counts(session, branch_id=profile.branch_id, service_type=service_type, start=slot.starts_at, end=slot.ends_at, exclude_id=exclude_id)
    if booked.get(slot.starts_at, 0) >= slot.capacity:
        raise conflict("slot-full", f"the slot at {slot.starts_at.isoformat()} is fully booked", starts_at=slot.starts_at.isoformat())
    return slot


async def book(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, branch_id: str, service_type: str, starts_at: datetime, now: datetime) -> dict[str, Any]:
    """Book a free slot; publishes ``mobile.appointment.booked`` and, when the customer
    accepted an ``appointment`` offer at this branch, its ``channel.diversion.completed``.

    Raises:
        Problem: 404 branch; 422 service / slot; 409 ``slot-full`` or ``branch-inactive``.
    """
    profile = await branches.profile_of(session, branch_id, for_update=True)
    branches.require_service(profile, service_type)
    slot = await _take_slot(session, runtime, profile, service_type=service_type, starts_at=starts_at, now=now)
    row = await repo.add_appointment(
        session,
        appointment_id=str(uuid.uuid4()),
        customer_id=customer_id,
        branch_id=branch_id,
        service_type=service_type,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        status="booked",
        created_at=now,
        updated_at=now,
    )
    await runtime.publish(session, AppointmentBooked(**_event_fields(row, now)), time=now)
    await handoffs.on_booked(session, runtime, customer_id=customer_id, branch_id=branch_id, service_type=service_type, appointment_id=row["appointment_id"], now=now)
    return appointment_view(row)


async def owned_appointment(session: AsyncSession, *, customer_id: str, appointment_id: str, for_update: bool = False) -> Any:
    """The appointment if it belongs to ``customer_id``; 404 otherwise (also for others')."""
    row = await repo.get_appointment(session, appointment_id=appointment_id, for_update=for_update)
    if row is None or row["customer_id"] != customer_id:
        raise not_found("appointment", appointment_id)
    return row


async def reschedule(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, appointment_id: str, starts_at: datetime, now: datetime) -> dict[str, Any]:
    """Move a booked appointment to another free slot of the same branch and service.

    Raises:
        Problem: 404; 409 ``appointment-not-booked`` (cancelled / checked in) or ``slot-full``; 422 slot.
    """
    current = await owned_appointment(session, customer_id=customer_id, appointment_id=appointment_id)
    profile = await branches.profile_of(session, current["branch_id"], for_update=True)
    row = await owned_appointment(session, customer_id=customer_id, appointment_id=appointment_id, for_update=True)
    _require_booked(row)
    slot = await _take_slot(session, runtime, profile, service_type=row["service_type"], starts_at=starts_at, now=now, exclude_id=appointment_id)
    row = await repo.update_appointment(session, appointment_id=appointment_id, starts_at=slot.starts_at, ends_at=slot.ends_at, reminder_sent=False, updated_at=now)
    await runtime.publish(session, AppointmentRescheduled(**_event_fields(row, now)), time=now)
    return appointment_view(row)


async def cancel(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, appointment_id: str, now: datetime) -> dict[str, Any]:
    """Cancel a booked appointment; publishes ``mobile.appointment.cancelled``.

    Raises:
        Problem: 404; 409 ``appointment-not-booked``.
    """
    row = await owned_appointment(session, customer_id=customer_id, appointment_id=appointment_id, for_update=True)
    _require_booked(row)
    row = await repo.update_appointment(session, appointment_id=appointment_id, status="cancelled", updated_at=now)
    await runtime.publish(session, AppointmentCancelled(**_event_fields(row, now)), time=now)
    return appointment_view(row)


def _require_booked(row: Any) -> None:
    if row["status"] != "booked":
        raise conflict("appointment-not-booked", f"appointment {row['appointment_id']} is {row['status']}")


def _event_fields(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "appointment_id": row["appointment_id"],
        "customer_id": row["customer_id"],
        "branch_id": row["branch_id"],
        "service_type": row["service_type"],
        "starts_at": row["starts_at"].astimezone(UTC),
        "ends_at": row["ends_at"].astimezone(UTC),
        "status": row["status"],
        "occurred_at": now,
    }


async def list_appointments(session: AsyncSession, *, customer_id: str) -> list[dict[str, Any]]:
    """The customer's appointments, soonest first."""
    return [appointment_view(r) for r in await repo.list_for_customer(session, customer_id=customer_id)]
