"""The business day: queues, estimates and call-next see only the branch's current
business day; the end-of-day close expires yesterday's waiting and called tickets with
an event; appointments of another day are not checked in. Run on branches whose time
zones put them on different dates at the same instant (Pacific/Kiritimati, UTC+14, and
Pacific/Pago_Pago, UTC-11) and across a daylight-saving change (Europe/Prague)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from counterflow_ticketing.domain.business_day import seconds_to_next_close
from counterflow_ticketing.events.day_close import close_business_days_once
from counterflow_ticketing.persistence import tickets_repo

from .conftest import Branch, Service, make_branch, take_ticket, utc
from .kafka_helpers import find_events


async def _status(service: Service, branch: Branch, ticket: dict) -> dict:
    r = await service.client.get(f"/v1/kiosk/tickets/{ticket['ticket_id']}", headers=branch.kiosk)
    assert r.status_code == 200, r.text
    return r.json()


async def _call_next(service: Service, branch: Branch, counter: int = 0) -> dict | None:
    cid = branch.counters[counter]
    r = await service.client.post(f"/v1/counters/{cid}/call-next", headers=service.staff("teller", [branch.branch_id], subject=f"teller-{cid}"))
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


async def test_yesterdays_tickets_never_count_in_todays_queue_and_expire_with_an_event(service: Service, clock) -> None:
    # At 09:30Z on 2024-07-15 Kiritimati (UTC+14) is at 23:30 on the 15th and Pago Pago
    # (UTC-11) at 22:30 on the 14th; an hour later Kiritimati is on the 16th and Pago Pago
    # still on the 14th. The same instant is "tomorrow" in one branch and "today" in the other.
    kiritimati = await make_branch(service, time_zone="Pacific/Kiritimati", counters=[["cash"], ["cash"]])
    pago = await make_branch(service, time_zone="Pacific/Pago_Pago", counters=[["cash"]])
    clock(utc(2024, 7, 15, 9, 30))
    old_k = [await take_ticket(service, kiritimati) for _ in range(3)]
    old_p = [await take_ticket(service, pago) for _ in range(3)]
    called_k = await _call_next(service, kiritimati, counter=1)  # yesterday's C-called ticket at counter 2
    assert called_k is not None and called_k["number"] == "A001"
    assert [t["business_date"] for t in old_k] == ["2024-07-15"] * 3 and [t["business_date"] for t in old_p] == ["2024-07-14"] * 3

    clock(utc(2024, 7, 15, 10, 30))
    # Before any close runs: the new day's queue holds only the new day's tickets.
    fresh_k = await take_ticket(service, kiritimati)
    fresh_p = await take_ticket(service, pago)
    assert (fresh_k["number"], fresh_k["business_date"], fresh_k["position"]) == ("A001", "2024-07-16", 1)
    assert (fresh_p["number"], fresh_p["business_date"], fresh_p["position"]) == ("A004", "2024-07-14", 4)
    first = await _call_next(service, kiritimati)
    assert first is not None and first["ticket_id"] == fresh_k["ticket_id"]  # not yesterday's A002

    await close_business_days_once(service.runtime)
    for t in [*old_k[1:], called_k]:
        assert (await _status(service, kiritimati, t))["status"] == "expired"
    assert [(await _status(service, pago, t))["status"] for t in old_p] == ["waiting"] * 3
    assert await _call_next(service, kiritimati, counter=1) is None  # its called ticket expired: counter 2 is free, and nothing of the 16th waits

    expired = await find_events(
        service.settings,
        "branch.tickets.v1",
        lambda e: e.type == "branch.ticket.expired.v1" and e.data["branch_id"] == kiritimati.branch_id,
        count=3,
    )
    assert sorted(e.data["number"] for e in expired) == ["A001", "A002", "A003"]
    assert {e.data["status"] for e in expired} == {"expired"} and {e.data["business_date"] for e in expired} == {"2024-07-15"}

    # Pago Pago reaches the 15th an hour later: its four tickets of the 14th expire then.
    clock(utc(2024, 7, 15, 11, 0, 1))
    await close_business_days_once(service.runtime)
    assert [(await _status(service, pago, t))["status"] for t in [*old_p, fresh_p]] == ["expired"] * 4
    again = await close_business_days_once(service.runtime)
    assert again == 0  # each ticket expires once


async def test_the_day_ends_at_local_midnight_across_daylight_saving_changes(service: Service, clock) -> None:
    # 2024-03-31 in Prague has 23 hours (CEST starts): it ends at 22:00Z, not 23:00Z.
    branch = await make_branch(service, time_zone="Europe/Prague")
    clock(utc(2024, 3, 31, 21, 30))  # 23:30 CEST
    late = await take_ticket(service, branch)
    clock(utc(2024, 3, 31, 21, 59, 59))
    await close_business_days_once(service.runtime)
    assert (await _status(service, branch, late))["status"] == "waiting"
    assert (await take_ticket(service, branch))["position"] == 2
    clock(utc(2024, 3, 31, 22, 0, 1))  # 00:00:01 CEST on April 1
    await close_business_days_once(service.runtime)
    assert (await _status(service, branch, late))["status"] == "expired"
    assert (await take_ticket(service, branch))["position"] == 1

    # 2024-10-27 has 25 hours (CET returns): at 22:30Z it is still 23:30 CET on the 27th.
    clock(utc(2024, 10, 27, 20, 0))
    evening = await take_ticket(service, branch)
    clock(utc(2024, 10, 27, 22, 30))
    await close_business_days_once(service.runtime)
    assert (await _status(service, branch, evening))["status"] == "waiting"
    clock(utc(2024, 10, 27, 23, 0, 1))
    await close_business_days_once(service.runtime)
    assert (await _status(service, branch, evening))["status"] == "expired"


def test_the_close_wakes_at_the_next_local_midnight_of_23_and_25_hour_days() -> None:
    assert seconds_to_next_close(utc(2024, 3, 31, 0, 0), {"Europe/Prague"}) == timedelta(hours=22).total_seconds()
    assert seconds_to_next_close(utc(2024, 10, 27, 0, 0), {"Europe/Prague"}) == timedelta(hours=23).total_seconds()
    # Kiritimati's midnight comes 25 hours before Pago Pago's same-named midnight.
    at = utc(2024, 7, 15, 9, 30)
    assert seconds_to_next_close(at, {"Pacific/Kiritimati", "Pacific/Pago_Pago"}) == timedelta(minutes=30).total_seconds()
    assert seconds_to_next_close(at, {"Pacific/Pago_Pago"}) == timedelta(hours=1, minutes=30).total_seconds()
    assert seconds_to_next_close(at, set()) is None


async def test_an_appointment_of_another_business_day_is_not_checked_in(service: Service, clock) -> None:
    branch = await make_branch(service, time_zone="Europe/Prague", services=["account_opening"], counters=[["accounts"]])
    customer = f"c-{uuid.uuid4().hex[:8]}"
    tomorrow_early = f"a-{uuid.uuid4().hex[:8]}"
    starts = utc(2024, 5, 6, 22, 10)  # 00:10 CEST on May 7
    async with service.runtime.sessions() as session, session.begin():
        await tickets_repo.upsert_appointment(
            session,
            {"appointment_id": tomorrow_early, "branch_id": branch.branch_id, "customer_id": customer, "service_type": "account_opening", "starts_at": starts, "ends_at": starts + timedelta(minutes=30), "status": "booked"},
        )
    clock(utc(2024, 5, 6, 21, 50))  # 23:50 CEST on May 6: inside the 30-minute early window, but another day
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "account_opening", "appointment_id": tomorrow_early, "customer_id": customer}, headers=branch.kiosk)
    assert r.status_code == 409 and r.json()["type"].endswith("/appointment-not-due"), r.text
    assert "2024-05-07" in r.json()["detail"]
    clock(utc(2024, 5, 6, 22, 5))  # 00:05 CEST on May 7
    ticket = await take_ticket(service, branch, "account_opening", appointment_id=tomorrow_early, customer_id=customer)
    assert (ticket["origin"], ticket["business_date"]) == ("appointment", "2024-05-07")
