"""Appointment slots around the 2024 daylight-saving changes in Europe/Prague
(2024-03-31: 02:00 CET -> 03:00 CEST; 2024-10-27: 03:00 CEST -> 02:00 CET; EU Directive
2000/84/EC: last Sunday of March / October at 01:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from counterflow_shared.events.payloads.branches import BranchProfile, OpeningInterval
from counterflow_mobile_gateway.domain.slots import day_slots, find_slot, free_slots


def profile(opens: time, closes: time, *, minutes: int = 15, capacity: int = 2, closed: list[date] | None = None) -> BranchProfile:
    return BranchProfile(
        branch_id="b1",
        name="Praha",
        time_zone="Europe/Prague",
        opening_hours=[OpeningInterval(weekday=d, opens=opens, closes=closes) for d in range(7)],
        closed_days=closed or [],
        appointment_slot_minutes=minutes,
        appointment_capacity_per_slot=capacity,
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


ALL_DAY = profile(time(0, 0), time(0, 0))
OFFICE = profile(time(8, 0), time(17, 0))


@pytest.mark.parametrize(("day", "count"), [(date(2024, 3, 30), 96), (date(2024, 3, 31), 92), (date(2024, 10, 27), 100), (date(2024, 10, 28), 96)])
def test_a_whole_day_has_as_many_slots_as_hours(day, count):
    slots = day_slots(ALL_DAY, day)
    assert len(slots) == count
    assert all(b.starts_at - a.starts_at == timedelta(minutes=15) for a, b in zip(slots, slots[1:]))
    assert slots[0].local_start.time() == time(0, 0) and slots[-1].local_start.time() == time(23, 45)


def test_spring_forward_skips_the_missing_hour():
    slots = day_slots(ALL_DAY, date(2024, 3, 31))
    local = [s.local_start.strftime("%H:%M%z") for s in slots]
    assert not [t for t in local if t.startswith("02:")]
    i = local.index("01:45+0100")
    assert local[i + 1] == "03:00+0200"
    assert slots[i + 1].starts_at == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


def test_fall_back_repeats_the_hour_with_distinct_instants():
    slots = day_slots(ALL_DAY, date(2024, 10, 27))
    twice = [s for s in slots if s.local_start.strftime("%H:%M") == "02:15"]
    assert [s.local_start.strftime("%z") for s in twice] == ["+0200", "+0100"]
    assert [s.starts_at for s in twice] == [datetime(2024, 10, 27, 0, 15, tzinfo=UTC), datetime(2024, 10, 27, 1, 15, tzinfo=UTC)]
    assert find_slot(ALL_DAY, twice[1].starts_at) == twice[1]
    assert find_slot(ALL_DAY, twice[0].starts_at) == twice[0]


@pytest.mark.parametrize(
    ("day", "first_utc"),
    [
        (date(2024, 3, 30), datetime(2024, 3, 30, 7, 0, tzinfo=UTC)),  # CET, UTC+1
        (date(2024, 3, 31), datetime(2024, 3, 31, 6, 0, tzinfo=UTC)),  # CEST, UTC+2
        (date(2024, 10, 26), datetime(2024, 10, 26, 6, 0, tzinfo=UTC)),
        (date(2024, 10, 27), datetime(2024, 10, 27, 7, 0, tzinfo=UTC)),
    ],
)
def test_office_hours_stay_local_across_the_change(day, first_utc):
    slots = day_slots(OFFICE, day)
    assert len(slots) == 36
    assert slots[0].starts_at == first_utc
    assert slots[0].local_start.time() == time(8, 0) and slots[-1].local_start.time() == time(16, 45)
    assert slots[-1].ends_at == first_utc + timedelta(hours=9)


def test_opening_inside_the_gap_moves_forward():
    gap = profile(time(2, 30), time(4, 0), minutes=30)
    slots = day_slots(gap, date(2024, 3, 31))
    # 02:30 does not exist; read with the pre-change offset it is 01:30 UTC = 03:30 CEST.
    assert [s.local_start.strftime("%H:%M%z") for s in slots] == ["03:30+0200"]


def test_closed_days_weekdays_and_inactive_branches_have_no_slots():
    assert day_slots(profile(time(8, 0), time(17, 0), closed=[date(2024, 3, 31)]), date(2024, 3, 31)) == []
    weekdays_only = OFFICE.model_copy(update={"opening_hours": [iv for iv in OFFICE.opening_hours if iv.weekday < 5]})
    assert day_slots(weekdays_only, date(2024, 3, 31)) == []  # a Sunday
    assert day_slots(OFFICE.model_copy(update={"active": False}), date(2024, 3, 29)) == []


def test_free_slots_subtract_bookings_and_the_past():
    slots = day_slots(OFFICE, date(2024, 3, 31))
    booked = {slots[0].starts_at: 2, slots[1].starts_at: 1}
    free = free_slots(slots, booked, not_before=slots[0].starts_at)
    assert free[0] == (slots[1], 1) and len(free) == 35
    assert len(free_slots(slots, {}, not_before=slots[10].starts_at)) == 26


def test_find_slot_refuses_off_grid_instants():
    assert find_slot(OFFICE, datetime(2024, 3, 31, 6, 5, tzinfo=UTC)) is None
    assert find_slot(OFFICE, datetime(2024, 3, 31, 5, 45, tzinfo=UTC)) is None

