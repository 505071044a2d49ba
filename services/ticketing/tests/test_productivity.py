"""Productivity per teller and per branch, by day and hour (issue 17), from a day driven
through the kiosk and teller APIs at set instants: served, waits, service and walk times,
idle share, transfers and the customer's feedback, as JSON and as the CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from counterflow_shared.events.payloads.mobile import FeedbackGiven
from counterflow_testkit import eventually
from counterflow_ticketing.persistence.tables import ticket_feedback

from .conftest import Service, make_branch, take_ticket
from .kafka_helpers import find_events, send

ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)]


async def test_a_tellers_hour_in_figures_and_in_the_export(service: Service, clock) -> None:  # noqa: ANN001
    t0 = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    clock(t0)
    branch = await make_branch(service, time_zone="UTC", counters=[["cash", "payments"]], hours=ALL_DAY)
    b, (counter,) = branch.branch_id, branch.counters
    teller_id = f"teller-{counter}"
    teller = service.staff("teller", [b], subject=teller_id)
    first = await take_ticket(service, branch, "cash_withdrawal")
    second = await take_ticket(service, branch, "cash_withdrawal")

    async def step(at_s: int, path: str, json: dict | None = None) -> dict:
        clock(t0 + timedelta(seconds=at_s))
        r = await service.client.post(f"/v1/counters/{counter}/{path}", json=json, headers=teller)
        assert r.status_code == 200, r.text
        return r.json()

    called = (await step(100, "call-next"))["ticket"]
    assert called["ticket_id"] == first["ticket_id"]
    await step(130, f"tickets/{first['ticket_id']}/start")
    await step(330, f"tickets/{first['ticket_id']}/finish", {"outcome": "completed"})
    assert (await step(400, "call-next"))["ticket"]["ticket_id"] == second["ticket_id"]
    await step(410, f"tickets/{second['ticket_id']}/start")
    await step(500, f"tickets/{second['ticket_id']}/transfer", {"service_type": "transfer"})

    # feedback: one per served ticket, only once served, never twice
    assert (await service.client.post(f"/v1/kiosk/tickets/{second['ticket_id']}/feedback", json={"score": 5}, headers=branch.kiosk)).json()["type"].endswith("/ticket-not-served")
    given = await service.client.post(f"/v1/kiosk/tickets/{first['ticket_id']}/feedback", json={"score": 4, "comment": " quick and kind "}, headers=branch.kiosk)
    assert given.status_code == 201, given.text
    assert (given.json()["score"], given.json()["comment"], given.json()["teller_id"], given.json()["channel"]) == (4, "quick and kind", teller_id, "kiosk")
    again = await service.client.post(f"/v1/kiosk/tickets/{first['ticket_id']}/feedback", json={"score": 1}, headers=branch.kiosk)
    assert again.status_code == 409 and again.json()["type"].endswith("/feedback-given")
    out_of_scale = await service.client.post(f"/v1/kiosk/tickets/{first['ticket_id']}/feedback", json={"score": 6}, headers=branch.kiosk)
    assert out_of_scale.status_code == 422 and out_of_scale.json()["errors"][0]["field"] == "body.score"

    clock(t0 + timedelta(seconds=600))
    day = t0.date().isoformat()
    r = await service.client.get(f"/v1/branches/{b}/productivity", params={"from": day, "to": day}, headers=branch.lobby)
    assert r.status_code == 200, r.text
    rows = {(x["hour"], x["teller_id"]): x for x in r.json()["rows"]}
    assert set(rows) == {(None, None), (None, teller_id), (9, None), (9, teller_id)}
    mine = rows[(9, teller_id)]
    expected = {
        "business_date": day, "served": 1, "mean_wait_s": 100.0, "p90_wait_s": 100.0, "mean_service_s": 200.0, "mean_walk_s": 30.0,
        "open_s": 600.0, "idle_share": round(1 - 230 / 600, 4), "no_shows": 0, "transfers": 1, "feedback_count": 1, "mean_feedback": 4.0,
    }
    assert {k: mine[k] for k in expected} == expected
    assert {k: v for k, v in rows[(9, None)].items() if k != "teller_id"} == {k: v for k, v in mine.items() if k != "teller_id"}
    assert rows[(None, None)]["served"] == 1 and rows[(None, None)]["hour"] is None

    export = await service.client.get(f"/v1/branches/{b}/productivity.csv", params={"from": day, "to": day}, headers=branch.lobby)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(export.text)))
    assert len(lines) == 4
    line = next(x for x in lines if x["hour"] == "9" and x["teller_id"] == teller_id)
    assert (line["branch_id"], line["served"], line["mean_wait_s"], line["transfers"], line["idle_share"], line["mean_feedback"]) == (b, "1", "100.0", "1", str(expected["idle_share"]), "4.0")

    too_long = await service.client.get(f"/v1/branches/{b}/productivity", params={"from": day, "to": (t0 + timedelta(days=40)).date().isoformat()}, headers=branch.lobby)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "query.to"
    for start in ("yesterday", "0001-01-01"):
        bad = await service.client.get(f"/v1/branches/{b}/productivity", params={"from": start, "to": "0001-01-02" if start[0] == "0" else day}, headers=branch.lobby)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.from", bad.text
    assert (await service.client.get(f"/v1/branches/{b}/productivity", params={"from": day, "to": day}, headers=teller)).status_code == 403


async def test_feedback_from_the_app_is_kept_once_for_the_customers_own_served_ticket(service: Service) -> None:
    """``mobile.feedback.given`` (the gateway's) stores the first feedback of the
    customer's own served ticket; someone else's ticket or a second one change nothing."""
    branch = await make_branch(service, counters=[["cash", "payments"]], hours=ALL_DAY)
    counter = branch.counters[0]
    teller = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    customer = f"C-fb-{uuid.uuid4().hex[:8]}"
    ticket = await take_ticket(service, branch, "cash_withdrawal", customer_id=customer)
    assert (await service.client.post(f"/v1/counters/{counter}/call-next", headers=teller)).status_code == 200
    for step, body in (("start", None), ("finish", {"outcome": "completed"})):
        assert (await service.client.post(f"/v1/counters/{counter}/tickets/{ticket['ticket_id']}/{step}", json=body, headers=teller)).status_code == 200
    now = datetime.now(UTC)
    await send(
        service.settings,
        FeedbackGiven(ticket_id=ticket["ticket_id"], customer_id="C-someone-else", branch_id=branch.branch_id, score=1, given_at=now),
        FeedbackGiven(ticket_id=ticket["ticket_id"], customer_id=customer, branch_id=branch.branch_id, score=5, comment="great", given_at=now),
        FeedbackGiven(ticket_id=ticket["ticket_id"], customer_id=customer, branch_id=branch.branch_id, score=2, given_at=now),
    )

    async def stored():
        async with service.runtime.sessions() as s:
            return (await s.execute(select(ticket_feedback).where(ticket_feedback.c.ticket_id == ticket["ticket_id"]))).first()

    row = await eventually(stored, what="app feedback stored")
    await find_events(service.settings, "mobile.activity.v1", lambda e: e.type == "mobile.feedback.given.v1" and e.data["score"] == 2)  # all three were on the topic
    await asyncio.sleep(1.0)  # the consumer has had its chance at the later two
    row = await stored()
    assert (row.score, row.comment, row.channel, row.teller_id) == (5, "great", "app", f"teller-{counter}")
