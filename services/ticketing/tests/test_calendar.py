"""Opening hours are local wall-clock times converted through the IANA zone."""

from __future__ import annotations

from datetime import date, time

from counterflow_ticketing.domain import calendar

from .conftest import Service, make_branch

PRAGUE_HOURS = [calendar.Opening(weekday=6, opens=time(8, 0), closes=time(12, 0))]  # both dates are Sundays


def test_prague_first_slot_follows_daylight_saving() -> None:
    assert calendar.first_slot(date(2024, 3, 31), PRAGUE_HOURS, [], "Europe/Prague").isoformat() == "2024-03-31T06:00:00+00:00"
    assert calendar.first_slot(date(2024, 10, 27), PRAGUE_HOURS, [], "Europe/Prague").isoformat() == "2024-10-27T07:00:00+00:00"


def test_closed_day_and_wrong_weekday_have_no_slot() -> None:
    assert calendar.first_slot(date(2024, 3, 31), PRAGUE_HOURS, [date(2024, 3, 31)], "Europe/Prague") is None
    assert calendar.first_slot(date(2024, 4, 1), PRAGUE_HOURS, [], "Europe/Prague") is None


def test_a_wall_time_in_the_spring_gap_maps_after_the_gap() -> None:
    # 02:30 does not exist in Prague on 2024-03-31; it is taken as the instant clocks jumped to (01:30Z).
    assert calendar.local_instant(date(2024, 3, 31), time(2, 30), "Europe/Prague").isoformat() == "2024-03-31T01:30:00+00:00"


async def test_schedule_endpoint_gives_utc_slots_on_dst_days(service: Service) -> None:
    branch = await make_branch(service, counters=[], open_sessions=False, hours=[{"weekday": 6, "opens": "08:00", "closes": "09:00"}], appointment_slot_minutes=30)
    spring = (await service.client.get(f"/v1/branches/{branch.branch_id}/schedule", params={"date": "2024-03-31"}, headers=branch.ops)).json()
    autumn = (await service.client.get(f"/v1/branches/{branch.branch_id}/schedule", params={"date": "2024-10-27"}, headers=branch.ops)).json()
    assert spring["slots"] == ["2024-03-31T06:00:00+00:00", "2024-03-31T06:30:00+00:00"]
    assert autumn["slots"] == ["2024-10-27T07:00:00+00:00", "2024-10-27T07:30:00+00:00"]
    assert spring["day_type"] == "sunday"


async def test_unknown_time_zone_is_a_422_naming_the_field(service: Service) -> None:
    ops = service.staff("operations", ["*"])
    r = await service.client.put("/v1/branches/b-bad-zone", json={"name": "x", "time_zone": "Mars/Olympus"}, headers=ops)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "body.time_zone"
