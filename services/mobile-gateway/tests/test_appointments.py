"""Appointments through the API with a pinned clock (so that 2024's daylight-saving
days are bookable), check-in through the broker, capacity under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from counterflow_shared.events.payloads.tickets import TicketIssued, TicketOrigin, TicketStatus
from counterflow_testkit import eventually
from counterflow_mobile_gateway.api.dependencies import utcnow


@pytest.fixture
def pinned_clock(app):
    """``now`` of the API is 2024-10-20T12:00Z during the test."""
    app.dependency_overrides[utcnow] = lambda: datetime(2024, 10, 20, 12, 0, tzinfo=UTC)
    yield
    app.dependency_overrides.pop(utcnow, None)


async def test_slots_on_the_spring_change_day(client, producer, topic_prefix, kit, app):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer, all_day=False)
    app.dependency_overrides[utcnow] = lambda: datetime(2024, 3, 25, 12, 0, tzinfo=UTC)
    try:
        r = await client.get(f"/v1/branches/{branch.branch_id}/slots", params={"service_type": "loan_consultation", "date": "2024-03-31"}, headers=customer.headers)
    finally:
        app.dependency_overrides.pop(utcnow, None)
    assert r.status_code == 200, r.text
    slots = r.json()["slots"]
    assert len(slots) == 36
    assert slots[0]["starts_at"] == "2024-03-31T06:00:00+00:00" and slots[0]["local_start"] == "2024-03-31T08:00:00+02:00"
    assert slots[-1]["local_start"] == "2024-03-31T16:45:00+02:00"


async def test_book_the_repeated_hour_reschedule_cancel(client, producer, topic_prefix, activity, kit, pinned_clock):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer, capacity=1)
    slots = (await client.get(f"/v1/branches/{branch.branch_id}/slots", params={"service_type": "loan_consultation", "date": "2024-10-27"}, headers=customer.headers)).json()["slots"]
    assert len(slots) == 100
    second = next(s for s in slots if s["local_start"] == "2024-10-27T02:15:00+01:00")
    first = next(s for s in slots if s["local_start"] == "2024-10-27T02:15:00+02:00")
    body = {"branch_id": branch.branch_id, "service_type": "loan_consultation", "starts_at": "2024-10-27T01:15:00Z"}
    r = await client.post("/v1/appointments", json=body, headers=customer.headers)
    assert r.status_code == 201, r.text
    appointment = r.json()
    assert appointment["starts_at"] == second["starts_at"] == "2024-10-27T01:15:00+00:00" and appointment["ends_at"] == "2024-10-27T01:30:00+00:00"

    again = await client.post("/v1/appointments", json=body, headers=customer.headers)
    assert again.status_code == 409 and again.json()["type"].endswith("/slot-full")
    left = (await client.get(f"/v1/branches/{branch.branch_id}/slots", params={"service_type": "loan_consultation", "date": "2024-10-27"}, headers=customer.headers)).json()["slots"]
    assert first in left and second["starts_at"] not in [s["starts_at"] for s in left] and len(left) == 99

    moved = await client.post(f"/v1/appointments/{appointment['appointment_id']}/reschedule", json={"starts_at": first["starts_at"]}, headers=customer.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_at"] == "2024-10-27T00:15:00+00:00"
    cancelled = await client.post(f"/v1/appointments/{appointment['appointment_id']}/cancel", headers=customer.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await client.post(f"/v1/appointments/{appointment['appointment_id']}/cancel", headers=customer.headers)).status_code == 409

    ours = await activity.wait_for(
        lambda e: e.type.startswith("mobile.appointment.") and e.data["appointment_id"] == appointment["appointment_id"] and e.type.endswith("cancelled.v1"),
        what="appointment cancelled event",
    )
    assert len(ours) == 1
    # One customer's events share a partition (key customer_id): they arrive in order.
    kinds = [e.type for e in activity.events if e.type.startswith("mobile.appointment.") and e.data["appointment_id"] == appointment["appointment_id"]]
    assert kinds == ["mobile.appointment.booked.v1", "mobile.appointment.rescheduled.v1", "mobile.appointment.cancelled.v1"]


async def test_bad_slots_name_the_field(client, producer, topic_prefix, kit, pinned_clock):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer, all_day=False)
    base = {"branch_id": branch.branch_id, "service_type": "loan_consultation"}
    for starts_at in ("2024-10-22T06:05:00Z", "2024-10-22T03:00:00Z", "2024-10-20T12:00:00Z", "2025-06-02T07:00:00Z", "2024-10-22T08:00:00"):
        r = await client.post("/v1/appointments", json={**base, "starts_at": starts_at}, headers=customer.headers)
        assert r.status_code == 422, (starts_at, r.text)
        assert r.json()["errors"][0]["field"] == "body.starts_at"
    r = await client.get(f"/v1/branches/{branch.branch_id}/slots", params={"service_type": "loan_consultation", "date": "2024-31-10"}, headers=customer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.date"
    assert (await client.get("/v1/appointments", headers=customer.headers)).json() == []


async def test_last_place_goes_to_one_customer(client, producer, topic_prefix, kit, pinned_clock):
    customers = [await kit.new_customer(client) for _ in range(4)]
    branch = await kit.known_branch(client, producer, topic_prefix, customers[0], capacity=1)
    body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal", "starts_at": "2024-10-23T08:00:00Z"}
    answers = await asyncio.gather(*(client.post("/v1/appointments", json=body, headers=c.headers) for c in customers))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409]


async def test_check_in_turns_the_appointment_into_a_priority_ticket(client, producer, topic_prefix, kit, pinned_clock):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    appointment = (await client.post("/v1/appointments", json={"branch_id": branch.branch_id, "service_type": "loan_consultation", "starts_at": "2024-10-21T09:00:00Z"}, headers=customer.headers)).json()
    now = datetime.now(UTC)
    ticket = TicketIssued(
        ticket_id=f"t-{uuid.uuid4().hex[:8]}", branch_id=branch.branch_id, number="L003", service_type="loan_consultation", status=TicketStatus.WAITING,
        origin=TicketOrigin.APPOINTMENT, priority=50, customer_id=customer.customer_id, business_date=now.date(), position=1, estimated_wait_s=120.0,
        appointment_id=appointment["appointment_id"], issued_at=now, occurred_at=now,
    )
    async with kit.SseClient(client, customer.headers) as stream:
        await kit.emit(producer, topic_prefix, ticket)

        async def checked_in():
            a = (await client.get(f"/v1/appointments/{appointment['appointment_id']}", headers=customer.headers)).json()
            return a if a["status"] == "checked_in" else None

        a = await eventually(checked_in, what="appointment checked in")
        assert a["ticket_id"] == ticket.ticket_id
        await stream.wait_for(lambda ev, d: ev == "appointment" and d["status"] == "checked_in", what="SSE appointment update")
        followed = (await client.get("/v1/tickets", headers=customer.headers)).json()
        assert len(followed) == 1
        assert (followed[0]["origin"], followed[0]["number"], followed[0]["priority"], followed[0]["appointment_id"]) == ("appointment", "L003", 50, appointment["appointment_id"])
        await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "turn_soon", what="turn soon for the checked-in ticket")
