"""Branch information from the directory and load topics, and appointment reminders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from counterflow_shared.events.payloads.branches import BranchLoadSnapshot, ServiceLoad
from counterflow_testkit import eventually


async def test_branch_shows_local_hours_and_current_waits(client, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer, all_day=False)
    now = datetime.now(UTC)
    newer = BranchLoadSnapshot(branch_id=branch.branch_id, at=now, services=[ServiceLoad(service_type="cash_withdrawal", waiting=7, estimated_wait_s=840.0, open_counters=2)])
    older = BranchLoadSnapshot(branch_id=branch.branch_id, at=now - timedelta(minutes=5), services=[ServiceLoad(service_type="cash_withdrawal", waiting=1, estimated_wait_s=60.0, open_counters=1)])
    await kit.emit(producer, topic_prefix, newer)
    await kit.emit(producer, topic_prefix, older)  # arrives late: must not win
    marker = branch.model_copy(update={"name": "renamed", "updated_at": datetime.now(UTC)})
    await kit.emit(producer, topic_prefix, marker)

    async def renamed():
        b = (await client.get(f"/v1/branches/{branch.branch_id}", headers=customer.headers)).json()
        return b if b["name"] == "renamed" and b["load_at"] else None

    view = await eventually(renamed, what="load and renamed profile applied")
    cash = next(s for s in view["services"] if s["service_type"] == "cash_withdrawal")
    assert (cash["waiting"], cash["estimated_wait_s"], cash["open_counters"]) == (7, 840.0, 2)
    loans = next(s for s in view["services"] if s["service_type"] == "loan_consultation")
    assert loans["estimated_wait_s"] is None
    assert view["time_zone"] == "Europe/Prague" and view["opening_hours"][0] == {"weekday": 0, "opens": "08:00", "closes": "17:00"}
    listed = (await client.get("/v1/branches", headers=customer.headers)).json()
    assert branch.branch_id in {b["branch_id"] for b in listed}
    assert (await client.get("/v1/branches/nowhere", headers=customer.headers)).status_code == 404


async def test_appointment_reminder_within_the_lead_time(client, producer, topic_prefix, kit, activity):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Prague")).date()
    slots = []
    for day in (today, today + timedelta(days=1)):
        slots += (await client.get(f"/v1/branches/{branch.branch_id}/slots", params={"service_type": "cash_withdrawal", "date": day.isoformat()}, headers=customer.headers)).json()["slots"]
    soon = slots[0]  # 15 to 30 minutes from now: inside the one-hour reminder lead
    r = await client.post("/v1/appointments", json={"branch_id": branch.branch_id, "service_type": "cash_withdrawal", "starts_at": soon["starts_at"]}, headers=customer.headers)
    assert r.status_code == 201, r.text

    async def reminded():
        feed = (await client.get("/v1/notifications", headers=customer.headers)).json()["items"]
        return [n for n in feed if n["kind"] == "appointment_reminder"]

    notes = await eventually(reminded, what="appointment reminder")
    assert notes[0]["data"]["appointment"] == r.json()["appointment_id"]
    await asyncio.sleep(1.0)
    assert len(await reminded()) == 1
    await activity.wait_for(lambda e: e.type == "mobile.notification.issued.v1" and e.data["kind"] == "appointment_reminder" and e.subject == customer.customer_id, what="reminder push event")
