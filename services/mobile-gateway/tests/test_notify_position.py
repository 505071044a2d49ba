"""The "your turn soon" position is set per branch (issue 17): operations set
``notify_at_position`` on the branch in ticketing, the profile carries it on
``branch.directory.v1`` and the gateway notifies at that place in line; a branch without
one uses the gateway's ``turn_soon_position``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from counterflow_shared.events.payloads.tickets import TicketOrigin
from counterflow_testkit import eventually

from .test_remote_ticket import issued, ticket_state


async def _remote_ticket(client, producer, topic_prefix, kit, customer, branch, *, position: int) -> tuple[str, object]:
    body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}
    r = await client.post("/v1/tickets", json=body, headers={**customer.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert r.status_code == 202, r.text
    follow_id = r.json()["id"]
    mine = issued(branch.branch_id, number="A010", position=position, wait=3000.0, issued_at=datetime.now(UTC), remote_request_id=follow_id, customer_id=customer.customer_id)
    mine = mine.model_copy(update={"origin": TicketOrigin.REMOTE})
    await kit.emit(producer, topic_prefix, mine)

    async def waiting():
        state = await ticket_state(client, customer, follow_id)
        return state if state["status"] == "waiting" and state["position"] == position else None

    await eventually(waiting, what=f"remote ticket at position {position}")
    return follow_id, mine


async def _move(client, producer, topic_prefix, kit, customer, follow_id: str, mine, position: int) -> None:
    await kit.emit(producer, topic_prefix, mine.model_copy(update={"position": position, "estimated_wait_s": 3000.0 - position, "occurred_at": datetime.now(UTC)}))

    async def at():
        return (await ticket_state(client, customer, follow_id))["position"] == position

    await eventually(at, what=f"moved to position {position}")


async def _turn_soon(client, customer) -> list[dict]:
    return [n for n in (await client.get("/v1/notifications", headers=customer.headers)).json()["items"] if n["kind"] == "turn_soon"]


async def test_turn_soon_at_the_branchs_own_position(client, producer, topic_prefix, kit):
    customer, other = await kit.new_customer(client), await kit.new_customer(client)
    strict = await kit.known_branch(client, producer, topic_prefix, customer, notify_at_position=1)
    plain = await kit.known_branch(client, producer, topic_prefix, other)

    mine = await _remote_ticket(client, producer, topic_prefix, kit, customer, strict, position=6)
    theirs = await _remote_ticket(client, producer, topic_prefix, kit, other, plain, position=6)
    await _move(client, producer, topic_prefix, kit, customer, *mine, position=2)
    await _move(client, producer, topic_prefix, kit, other, *theirs, position=3)
    assert await _turn_soon(client, customer) == []  # 2nd is not yet 1st
    assert len(await _turn_soon(client, other)) == 1  # the gateway's default turn_soon_position: 3rd in line
    await _move(client, producer, topic_prefix, kit, customer, *mine, position=1)
    notes = await eventually(lambda: _turn_soon(client, customer), what="turn soon at the branch's position 1")
    assert len(notes) == 1 and "number 1 in the queue" in notes[0]["body"]
