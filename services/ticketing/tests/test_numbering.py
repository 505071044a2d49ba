"""Ticket numbers: per branch and prefix, restarting each branch-local business day,
never given twice (concurrent requests, two service instances, cancellations)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from counterflow_testkit import retry_busy, running_app
from counterflow_ticketing.main import create_app

from .conftest import Service, make_branch, take_ticket, utc

VANCOUVER = ZoneInfo("America/Vancouver")


async def test_twenty_concurrent_requests_get_numbers_one_to_twenty(service: Service) -> None:
    branch = await make_branch(service)
    # each kiosk retries a 503 (nothing applied) with its own Idempotency-Key, as kiosks do
    keys = [uuid.uuid4().hex for _ in range(20)]
    replies = await asyncio.gather(
        *(retry_busy(lambda k=k: service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers={**branch.kiosk, "Idempotency-Key": k})) for k in keys)
    )
    assert all(r.status_code == 201 for r in replies), [r.text for r in replies if r.status_code != 201]
    numbers = sorted(r.json()["ticket"]["number"] for r in replies)
    assert numbers == [f"A{i:03d}" for i in range(1, 21)]


async def test_vancouver_numbers_follow_the_local_day_not_the_utc_date(service: Service, clock) -> None:
    branch = await make_branch(service, time_zone="America/Vancouver")
    # 16:50 and 17:10 local on 2024-07-15 are 23:50Z and 00:10Z: two UTC dates, one business day.
    clock(datetime(2024, 7, 15, 16, 50, tzinfo=VANCOUVER))
    first = await take_ticket(service, branch)
    clock(datetime(2024, 7, 15, 17, 10, tzinfo=VANCOUVER))
    second = await take_ticket(service, branch)
    clock(datetime(2024, 7, 16, 9, 0, tzinfo=VANCOUVER))
    next_morning = await take_ticket(service, branch)
    assert (first["number"], second["number"], next_morning["number"]) == ("A001", "A002", "A001")
    assert first["business_date"] == second["business_date"] == "2024-07-15"
    assert next_morning["business_date"] == "2024-07-16"


async def test_numbering_restarts_at_local_midnight_on_the_day_daylight_saving_ends(service: Service, clock) -> None:
    branch = await make_branch(service, time_zone="America/Vancouver")
    # PDT ends 2024-11-03 02:00 local. 23:30 PDT on Nov 2 is 06:30Z Nov 3; 00:30 PDT on Nov 3 is 07:30Z.
    clock(utc(2024, 11, 3, 6, 30))
    late = await take_ticket(service, branch)
    clock(utc(2024, 11, 3, 7, 30))
    after_midnight = await take_ticket(service, branch)
    clock(utc(2024, 11, 3, 9, 30))  # 01:30 PST, after the repeated hour
    later = await take_ticket(service, branch)
    assert (late["business_date"], late["number"]) == ("2024-11-02", "A001")
    assert (after_midnight["business_date"], after_midnight["number"]) == ("2024-11-03", "A001")
    assert (later["business_date"], later["number"]) == ("2024-11-03", "A002")


async def test_a_cancelled_number_is_not_given_again(service: Service) -> None:
    branch = await make_branch(service)
    first = await take_ticket(service, branch)
    r = await service.client.post(f"/v1/kiosk/tickets/{first['ticket_id']}/cancel", headers=branch.kiosk)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    second = await take_ticket(service, branch)
    assert (first["number"], second["number"]) == ("A001", "A002")


async def test_prefixes_count_separately(service: Service) -> None:
    branch = await make_branch(service)
    a = await take_ticket(service, branch, "cash_withdrawal")
    b = await take_ticket(service, branch, "transfer")
    a2 = await take_ticket(service, branch, "cash_deposit")  # same prefix A as withdrawals
    assert (a["number"], b["number"], a2["number"]) == ("A001", "B001", "A002")


async def test_two_service_instances_never_give_the_same_number(service: Service, settings) -> None:
    branch = await make_branch(service)
    other = create_app(settings.model_copy(update={"embedded_workers": False}), group_suffix=f"-{uuid.uuid4().hex[:6]}")
    async with running_app(other) as second_client:
        replies = await asyncio.gather(
            *(c.post("/v1/kiosk/service-requests", json={"service_type": "transfer"}, headers=branch.kiosk) for c in [service.client, second_client] * 10)
        )
    assert all(r.status_code == 201 for r in replies), [r.text for r in replies]
    assert sorted(r.json()["ticket"]["number"] for r in replies) == [f"B{i:03d}" for i in range(1, 21)]
