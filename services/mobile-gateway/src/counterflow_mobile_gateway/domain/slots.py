"""Appointment slots from a branch's local opening hours.

Opening hours are branch-local wall-clock intervals (``BranchProfile.opening_hours``)
in the branch's IANA time zone. Slots are laid out by stepping in absolute (UTC) time
from the local opening instant to the local closing instant, so a daylight-saving day
comes out right: on 2024-03-31 in Europe/Prague a 00:00-24:00 day has 23 hours of slots,
on 2024-10-27 it has 25 and the repeated 02:00-03:00 hour appears twice, each slot with
its own UTC instant. A local time that does not exist (inside the spring-forward gap) is
read with ``fold=0``, i.e. with the offset in force before the change (PEP 495), which
moves it forward by the size of the gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from counterflow_shared.events.payloads.branches import BranchProfile


@dataclass(frozen=True)
class Slot:
    """One bookable slot: ``starts_at`` / ``ends_at`` are UTC, ``local_start`` is the
    branch-local wall-clock start (with its UTC offset), ``capacity`` appointments fit."""

    starts_at: datetime
    ends_at: datetime
    local_start: datetime
    capacity: int


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock ``wall`` on ``day`` in ``zone``.

    ``time(0, 0)`` used as a closing time means the end of the day (midnight after);
    callers pass ``day + 1`` for that. Non-existent times resolve with ``fold=0``.
    """
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def day_slots(profile: BranchProfile, day: date) -> list[Slot]:
    """Every slot of branch-local calendar ``day``, in time order (capacity not yet
    reduced by bookings). Empty when the branch is inactive, closed that day (listed in
    ``closed_days``) or has no opening interval on that weekday.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: the profile's time zone is unknown.
    """
    if not profile.active or day in profile.closed_days:
        return []
    zone = ZoneInfo(profile.time_zone)
    step = timedelta(minutes=profile.appointment_slot_minutes)
    slots: list[Slot] = []
    for interval in profile.opening_hours:
        if interval.weekday != day.weekday():
            continue
        start = local_instant(day, interval.opens, zone)
        closes_day = day + timedelta(days=1) if interval.closes <= interval.opens else day
        end = local_instant(closes_day, interval.closes, zone)
        slots.extend(_step(start, end, step, zone, profile.appointment_capacity_per_slot))
    slots.sort(key=lambda s: s.starts_at)
    return slots


def _step(start: datetime, end: datetime, step: timedelta, zone: ZoneInfo, capacity: int) -> Iterator[Slot]:
    t = start
    while t + step <= end:
        yield Slot(starts_at=t, ends_at=t + step, local_start=t.astimezone(zone), capacity=capacity)
        t += step


def find_slot(profile: BranchProfile, starts_at: datetime) -> Slot | None:
    """The slot of ``profile`` that starts exactly at instant ``starts_at`` (any zone),
    or ``None`` when no slot starts then."""
    zone = ZoneInfo(profile.time_zone)
    local_day = starts_at.astimezone(zone).date()
    # An interval that ends after midnight belongs to the previous local day.
    for day in (local_day, local_day - timedelta(days=1)):
        for slot in day_slots(profile, day):
            if slot.starts_at == starts_at.astimezone(UTC):
                return slot
    return None


def free_slots(slots: Iterable[Slot], booked: dict[datetime, int], *, not_before: datetime) -> list[tuple[Slot, int]]:
    """``(slot, free places)`` for slots starting at or after ``not_before`` that still
    have room; ``booked`` maps a slot's UTC start to the appointments already in it."""
    out = []
    for slot in slots:
        if slot.starts_at < not_before:
            continue
        free = slot.capacity - booked.get(slot.starts_at, 0)
        if free > 0:
            out.append((slot, free))
    return out
