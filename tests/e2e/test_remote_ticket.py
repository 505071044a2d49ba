"""End to end through the real broker with BOTH services: ticketing (in-process, its
own database) and the mobile gateway. The branch reaches the gateway as ticketing's
``branch.profile.updated``; the remote request goes to ticketing as
``mobile.remote_ticket.requested``; ticketing's ``TicketIssued`` / ``TicketCalled`` come
back and the customer sees number, position, the call and the counter."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from counterflow_shared.events.catalog import BRANCH_TICKETS
from counterflow_shared.events.kafka import ensure_topics
from counterflow_testkit import _in_thread, eventually

from .conftest import gateway_test_support, open_branch


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this test's own: ticketing instances of other tests on the session's
    prefix would also answer the remote request (refusing a branch they do not know)."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    _in_thread(asyncio.run, ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix))
    return prefix


_support = gateway_test_support()
database, redis_prefix, gateway, client, kit = _support.database, _support.redis_prefix, _support.gateway, _support.client, _support.kit


async def test_remote_ticket_through_ticketing(ticketing, client, kit, infrastructure, topic_prefix):
    tclient, tsettings = ticketing
    branch_id, counter, teller = await open_branch(tclient, tsettings, "Brno - Náměstí Svobody")

    customer = await kit.new_customer(client)

    async def branch_known():
        r = await client.get(f"/v1/branches/{branch_id}", headers=customer.headers)
        return r.json() if r.status_code == 200 else None

    branch = await eventually(branch_known, timeout_s=60, what="ticketing's branch profile reached the gateway")
    assert {s["service_type"] for s in branch["services"]} >= {"cash_withdrawal", "transfer"}

    async with kit.SseClient(client, customer.headers) as stream:
        pending = (await client.post("/v1/tickets", json={"branch_id": branch_id, "service_type": "cash_withdrawal", "travel_time_s": 300}, headers=customer.headers)).json()
        assert pending["status"] == "pending"

        async def issued():
            t = (await client.get(f"/v1/tickets/{pending['id']}", headers=customer.headers)).json()
            return t if t["status"] == "waiting" else None

        ticket = await eventually(issued, timeout_s=60, what="ticketing issued the remote ticket")
        assert ticket["number"] and ticket["position"] == 1 and ticket["ticket_id"]
        await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "turn_soon", what="turn soon")

        r = await tclient.post(f"/v1/counters/{counter}/call-next", headers=teller)
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["ticket_id"] == ticket["ticket_id"]
        note = await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "called", timeout_s=60, what="called notification")
        assert note[0][1]["data"]["counter_id"] == counter and ticket["number"] in note[0][1]["body"]
        called = (await client.get(f"/v1/tickets/{pending['id']}", headers=customer.headers)).json()
        assert called["status"] == "called" and called["counter_id"] == counter

    # Cancel in the app: ticketing withdraws the ticket it issued.
    second = (await client.post("/v1/tickets", json={"branch_id": branch_id, "service_type": "transfer"}, headers=customer.headers)).json()

    async def second_issued():
        t = (await client.get(f"/v1/tickets/{second['id']}", headers=customer.headers)).json()
        return t if t["status"] == "waiting" else None

    second_ticket = await eventually(second_issued, timeout_s=60, what="second ticket issued")
    assert (await client.post(f"/v1/tickets/{second['id']}/cancel", headers=customer.headers)).status_code == 200
    tickets_topic = kit.ActivityLog(infrastructure.kafka_bootstrap_servers, f"{topic_prefix}{BRANCH_TICKETS.name}", BRANCH_TICKETS.partitions)
    await tickets_topic.start()
    try:
        await tickets_topic.wait_for(lambda e: e.type == "branch.ticket.cancelled.v1" and e.data["ticket_id"] == second_ticket["ticket_id"], timeout_s=60, what="ticketing cancelled the ticket")
    finally:
        await tickets_topic.stop()
