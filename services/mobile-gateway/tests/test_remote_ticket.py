"""Remote tickets through the real broker: the gateway publishes the request, this test
plays ticketing's part on the session's topic prefix (issued / called / rejected
events), and the app sees pending -> ticket with number, position and wait -> queue
moving -> notifications, on the REST API and the SSE stream."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from counterflow_shared.events.payloads.tickets import RemoteTicketRejected, TicketCalled, TicketIssued, TicketOrigin, TicketStatus
from counterflow_testkit import eventually


def issued(branch_id: str, *, number: str, position: int, wait: float, issued_at: datetime, remote_request_id: str | None = None, customer_id: str | None = None, service_type: str = "cash_withdrawal") -> TicketIssued:
    return TicketIssued(
        ticket_id=f"t-{uuid.uuid4().hex[:10]}",
        branch_id=branch_id,
        number=number,
        service_type=service_type,
        status=TicketStatus.WAITING,
        origin=TicketOrigin.REMOTE if remote_request_id else TicketOrigin.WALK_IN,
        customer_id=customer_id,
        business_date=issued_at.date(),
        position=position,
        estimated_wait_s=wait,
        remote_request_id=remote_request_id,
        issued_at=issued_at,
        occurred_at=issued_at,
    )


def called(ticket: TicketIssued, *, counter_id: str, call_count: int = 1, counter_name: str | None = None) -> TicketCalled:
    data = ticket.model_dump()
    data.update(status=TicketStatus.CALLED, position=None, estimated_wait_s=None, counter_id=counter_id, counter_name=counter_name, call_count=call_count, occurred_at=datetime.now(UTC))
    return TicketCalled(**data)


async def ticket_state(client, customer, ticket_id: str) -> dict:
    r = await client.get(f"/v1/tickets/{ticket_id}", headers=customer.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_remote_ticket_end_to_end_through_kafka(client, producer, topic_prefix, activity, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    now = datetime.now(UTC)
    # Three walk-ins already waiting ahead of the remote customer.
    ahead = [issued(branch.branch_id, number=f"A00{i}", position=i, wait=300.0 * i, issued_at=now - timedelta(minutes=10 - i)) for i in (1, 2, 3)]
    for t in ahead:
        await kit.emit(producer, topic_prefix, t)

    async with kit.SseClient(client, customer.headers) as stream:
        body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal", "travel_time_s": 600}
        headers = {**customer.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
        r = await client.post("/v1/tickets", json=body, headers=headers)
        assert r.status_code == 202, r.text
        pending = r.json()
        assert pending["status"] == "pending" and pending["number"] is None
        replay = await client.post("/v1/tickets", json=body, headers=headers)
        assert replay.status_code == 202 and replay.json() == pending and replay.headers["Idempotent-Replayed"] == "true"
        assert len([t for t in (await client.get("/v1/tickets", headers=customer.headers)).json() if t["id"] == pending["id"]]) == 1

        requested = await activity.wait_for(lambda e: e.type == "mobile.remote_ticket.requested.v1" and e.data["request_id"] == pending["id"], what="remote ticket request event")
        assert len(requested) == 1
        assert requested[0].subject == customer.customer_id and requested[0].data["travel_time_s"] == 600

        # Ticketing answers: A004, fifth in the queue, 25 minutes.
        mine = issued(branch.branch_id, number="A004", position=5, wait=1500.0, issued_at=now, remote_request_id=pending["id"], customer_id=customer.customer_id)
        mine = mine.model_copy(update={"origin": TicketOrigin.REMOTE})
        await kit.emit(producer, topic_prefix, mine)

        async def waiting():
            state = await ticket_state(client, customer, pending["id"])
            return state if state["status"] == "waiting" else None

        state = await eventually(waiting, what="remote ticket issued")
        assert (state["number"], state["position"], state["estimated_wait_s"], state["ticket_id"]) == ("A004", 5, 1500.0, mine.ticket_id)
        await stream.wait_for(lambda ev, d: ev == "ticket" and d["id"] == pending["id"] and d["status"] == "waiting", what="SSE ticket update")

        # The queue moves: the walk-ins ahead are called one after the other.
        await kit.emit(producer, topic_prefix, called(ahead[0], counter_id="C1"))
        await kit.emit(producer, topic_prefix, called(ahead[1], counter_id="C2"))

        async def at(position: int):
            state = await ticket_state(client, customer, pending["id"])
            return state if state["position"] == position else None

        state = await eventually(lambda: at(3), what="moved up to position 3")
        assert abs(state["estimated_wait_s"] - 900.0) < 1e-6  # 1500 * 4/5 * 3/4
        await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "turn_soon", what="turn soon notification")
        assert not [d for ev, d in stream.events if ev == "notification" and d["kind"] == "time_to_leave"]

        await kit.emit(producer, topic_prefix, called(ahead[2], counter_id="C1"))
        await eventually(lambda: at(2), what="moved up to position 2")
        leave = await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "time_to_leave", what="time to leave (600 s wait <= 600 s travel + 120 s margin)")
        assert leave[0][1]["data"]["number"] == "A004"

        await kit.emit(producer, topic_prefix, called(mine, counter_id="C3", counter_name="Window 3"))
        note = await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "called", what="called notification")
        assert note[0][1]["data"]["counter_id"] == "C3" and "A004" in note[0][1]["body"]
        assert note[0][1]["body"].endswith("please go to Window 3.") and note[0][1]["data"]["counter_name"] == "Window 3"  # as the customer sees it
        state = await ticket_state(client, customer, pending["id"])
        assert state["status"] == "called" and state["counter_id"] == "C3" and state["position"] is None

    feed = (await client.get("/v1/notifications", headers=customer.headers)).json()["items"]
    assert [n["kind"] for n in feed] == ["called", "time_to_leave", "turn_soon"]
    pushed = await activity.wait_for(lambda e: e.type == "mobile.notification.issued.v1" and e.subject == customer.customer_id and e.data["kind"] == "called", what="push event")
    assert pushed[0].data["data"]["counter_id"] == "C3"


async def test_active_remote_ticket_limit_holds_under_concurrency(client, producer, topic_prefix, activity, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}
    answers = await asyncio.gather(*(client.post("/v1/tickets", json=body, headers=customer.headers) for _ in range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202, 202, 409, 409, 409, 409], codes
    refused = next(r for r in answers if r.status_code == 409)
    assert refused.json()["type"].endswith("/remote-ticket-limit") and refused.json()["limit"] == 2
    assert len((await client.get("/v1/tickets", headers=customer.headers)).json()) == 2

    first = next(r for r in answers if r.status_code == 202).json()
    cancelled = await client.post(f"/v1/tickets/{first['id']}/cancel", headers=customer.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/v1/tickets/{first['id']}/cancel", headers=customer.headers)
    assert again.status_code == 409
    assert (await client.post("/v1/tickets", json=body, headers=customer.headers)).status_code == 202
    await activity.wait_for(lambda e: e.type == "mobile.remote_ticket.cancelled.v1" and e.data["request_id"] == first["id"], what="cancel event")


async def test_rejected_request_and_cancel_before_issue(client, producer, topic_prefix, activity, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}
    rejected = (await client.post("/v1/tickets", json=body, headers=customer.headers)).json()
    await kit.emit(producer, topic_prefix, RemoteTicketRejected(remote_request_id=rejected["id"], branch_id=branch.branch_id, customer_id=customer.customer_id, reason="branch closes in 10 minutes", occurred_at=datetime.now(UTC)))

    async def is_rejected():
        state = await ticket_state(client, customer, rejected["id"])
        return state if state["status"] == "rejected" else None

    state = await eventually(is_rejected, what="rejection applied")
    assert state["reject_reason"] == "branch closes in 10 minutes"

    # Cancelled while pending; ticketing's answer crosses the cancellation.
    early = (await client.post("/v1/tickets", json=body, headers=customer.headers)).json()
    assert (await client.post(f"/v1/tickets/{early['id']}/cancel", headers=customer.headers)).status_code == 200
    late = issued(branch.branch_id, number="A050", position=1, wait=60.0, issued_at=datetime.now(UTC), remote_request_id=early["id"], customer_id=customer.customer_id)
    await kit.emit(producer, topic_prefix, late)
    withdrawn = await activity.wait_for(
        lambda e: e.type == "mobile.remote_ticket.cancelled.v1" and e.data["request_id"] == early["id"] and e.data["ticket_id"] == late.ticket_id,
        what="cancellation repeated with the issued ticket id",
    )
    assert len(withdrawn) == 1
    assert (await ticket_state(client, customer, early["id"]))["status"] == "cancelled"


async def test_unknown_branch_and_service_are_refused_without_effect(client, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    r = await client.post("/v1/tickets", json={"branch_id": "no-such-branch", "service_type": "cash_withdrawal"}, headers=customer.headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_type": "wealth_management"}, headers=customer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.service_type"
    r = await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_type": "cash_withdrawal", "travel_time_s": -5}, headers=customer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.travel_time_s"
    r = await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_typo": "cash_withdrawal"}, headers=customer.headers)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"body.service_type", "body.service_typo"}
    assert (await client.get("/v1/tickets", headers=customer.headers)).json() == []


async def test_a_redelivered_event_has_one_effect(client, producer, topic_prefix, kit):
    from counterflow_shared.events.catalog import BRANCH_TICKETS
    from counterflow_shared.events.envelope import new_event

    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}
    first = (await client.post("/v1/tickets", json=body, headers=customer.headers)).json()
    later = (await client.post("/v1/tickets", json=body, headers=customer.headers)).json()
    mine = issued(branch.branch_id, number="A077", position=9, wait=2000.0, issued_at=datetime.now(UTC), remote_request_id=first["id"], customer_id=customer.customer_id)
    await kit.emit(producer, topic_prefix, mine)
    call = new_event(called(mine, counter_id="C9"), source="/counterflow/ticketing")
    for _ in range(3):  # the same event id three times, as after a producer retry
        await producer.send_and_wait(f"{topic_prefix}{BRANCH_TICKETS.name}", call.to_bytes(), key=call.subject.encode())
    # Same key (branch), so same partition: once this one is applied, the copies were too.
    await kit.emit(producer, topic_prefix, issued(branch.branch_id, number="A078", position=9, wait=2000.0, issued_at=datetime.now(UTC), remote_request_id=later["id"], customer_id=customer.customer_id))

    async def later_issued():
        state = await ticket_state(client, customer, later["id"])
        return state if state["status"] == "waiting" else None

    await eventually(later_issued, what="the event after the copies applied")
    assert (await ticket_state(client, customer, first["id"]))["status"] == "called"
    feed = (await client.get("/v1/notifications", headers=customer.headers)).json()["items"]
    assert [n["kind"] for n in feed].count("called") == 1


async def test_without_an_active_rule_set_the_request_is_a_plain_ticket_and_bad_inputs_name_the_field(client, producer, topic_prefix, activity, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    base = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}
    for body, field in (
        ({**base, "amount": "100"}, "body.currency"),
        ({**base, "amount": 100.5, "currency": "CZK"}, "body.amount"),
        ({**base, "needs": ["vip"]}, "body.needs.0"),
    ):
        r = await client.post("/v1/tickets", json=body, headers=customer.headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert field in r.text, (field, r.text)
    r = await client.post("/v1/tickets", json={**base, "amount": "2500.50", "currency": "CZK", "needs": ["elderly"]}, headers=customer.headers)
    assert r.status_code == 202, r.text
    doc = r.json()
    assert (doc["kind"], doc["status"], doc["decision"]["rule_set_version"], doc["decision"]["rule_id"]) == ("ticket", "pending", 0, "default")
    requested = await activity.wait_for(lambda e: e.type == "mobile.remote_ticket.requested.v1" and e.data["request_id"] == doc["id"], what="the remote request")
    assert (requested[-1].data["rule_set_version"], requested[-1].data["rule_id"], requested[-1].data["priority_boost"]) == (0, "default", 0)
    for action in ("accept", "decline"):
        r = await client.post(f"/v1/offers/{uuid.uuid4()}/{action}", headers=customer.headers)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json"), r.text
