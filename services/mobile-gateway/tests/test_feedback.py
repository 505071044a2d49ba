"""Feedback after service from the app (issue 17): only on the customer's own served
ticket, sent to ticketing as ``mobile.feedback.given``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from counterflow_shared.events.payloads.tickets import TicketOrigin, TicketServed, TicketStatus
from counterflow_testkit import eventually

from .test_remote_ticket import issued, ticket_state


async def test_feedback_on_a_served_ticket_goes_to_ticketing(client, producer, topic_prefix, activity, kit):
    customer, stranger = await kit.new_customer(client), await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    r = await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}, headers={**customer.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert r.status_code == 202, r.text
    follow = r.json()["id"]
    mine = issued(branch.branch_id, number="A020", position=1, wait=60.0, issued_at=datetime.now(UTC), remote_request_id=follow, customer_id=customer.customer_id).model_copy(update={"origin": TicketOrigin.REMOTE})
    await kit.emit(producer, topic_prefix, mine)
    await eventually(lambda: _status(client, customer, follow, "waiting"), what="ticket waiting")

    early = await client.post(f"/v1/tickets/{follow}/feedback", json={"score": 5}, headers=customer.headers)
    assert early.status_code == 409 and early.json()["type"].endswith("/ticket-not-served")

    data = mine.model_dump()
    data.update(status=TicketStatus.SERVED, position=None, estimated_wait_s=None, counter_id="C1", call_count=1, outcome="completed", occurred_at=datetime.now(UTC))
    await kit.emit(producer, topic_prefix, TicketServed(**data))
    await eventually(lambda: _status(client, customer, follow, "served"), what="ticket served")

    assert (await client.post(f"/v1/tickets/{follow}/feedback", json={"score": 5}, headers=stranger.headers)).status_code == 404
    bad = await client.post(f"/v1/tickets/{follow}/feedback", json={"score": 0}, headers=customer.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.score"
    ok = await client.post(f"/v1/tickets/{follow}/feedback", json={"score": 4, "comment": "  quick  "}, headers=customer.headers)
    assert ok.status_code == 202, ok.text
    sent = await activity.wait_for(lambda e: e.type == "mobile.feedback.given.v1" and e.data["ticket_id"] == mine.ticket_id, what="feedback event")
    assert (sent[0].subject, sent[0].data["score"], sent[0].data["comment"], sent[0].data["branch_id"]) == (customer.customer_id, 4, "quick", branch.branch_id)


async def _status(client, customer, follow: str, status: str) -> bool:
    return (await ticket_state(client, customer, follow))["status"] == status
