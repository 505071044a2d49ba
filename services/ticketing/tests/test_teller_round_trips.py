"""The teller actions' round-trip budget (issue 15): call next, call a specific ticket,
recall, start, finish and no-show take at most two PostgreSQL round trips (one read, one
write, no BEGIN / COMMIT) and, for a call, one Redis round trip (the display stream).
Counted through the drivers' hooks (:mod:`counterflow_shared.roundtrips`), not timed;
the effects (ticket state, outbox events, learned times, display stream) are read back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select, text

from counterflow_shared.roundtrips import RoundTrips, counting
from counterflow_ticketing.persistence.tables import backbone, service_time_stats, tickets

from .conftest import Branch, Service, make_branch, take_ticket

PG_BUDGET = 2


async def _post(service: Service, branch: Branch, path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    return await service.client.post(f"/v1/counters/{branch.counters[0]}{path}", json=body, headers=headers)


async def _measured(service: Service, branch: Branch, path: str, headers: dict[str, str], body: dict[str, Any] | None = None, *, redis: int = 0) -> Any:
    """Post a teller action and assert its budget. A pooled connection that has not yet
    prepared the action's statements prepares them once (one extra round trip per
    statement and connection): only those preparation round trips are taken out."""
    with counting(service.runtime.engine) as counts:
        r = await _post(service, branch, path, headers, body)
    assert r.status_code == 200, r.text
    _assert_budget(counts, path, redis)
    return r.json()


def _assert_budget(counts: RoundTrips, what: str, redis: int) -> None:
    steady = counts.postgres - counts.prepares
    print(f"{what}: postgres={counts.postgres} (prepares {counts.prepares}) redis={counts.redis} statements={counts.statements}")
    assert steady <= PG_BUDGET, f"{what}: {steady} PostgreSQL round trips besides preparing ({counts.statements})"
    assert counts.redis <= redis, f"{what}: {counts.redis} Redis round trips"
    assert "BEGIN" not in counts.statements and "COMMIT" not in counts.statements, counts.statements


async def _events(service: Service, ticket_id: str) -> list[str]:
    outbox = backbone["outbox"]
    async with service.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.headers["ce_type"].as_string(), outbox.c.value).order_by(outbox.c.id))).all()
    return [kind for kind, value in rows if kind.startswith("branch.ticket.") and json.loads(value)["data"]["ticket_id"] == ticket_id]


async def test_a_customer_served_from_call_to_finish_costs_two_round_trips_per_action(service: Service) -> None:
    branch = await make_branch(service)
    teller = service.staff("teller", [branch.branch_id], subject=f"teller-{branch.counters[0]}")
    ticket = await take_ticket(service, branch)

    called = await _measured(service, branch, "/call-next", teller, redis=1)
    tid = called["ticket"]["ticket_id"]
    assert tid == ticket["ticket_id"] and called["ticket"]["status"] == "called" and called["ticket"]["counter_id"] == branch.counters[0]
    recalled = await _measured(service, branch, f"/tickets/{tid}/recall", teller, redis=1)
    assert recalled["ticket"]["call_count"] == 2
    started = await _measured(service, branch, f"/tickets/{tid}/start", teller)
    assert started["ticket"]["status"] == "serving"
    finished = await _measured(service, branch, f"/tickets/{tid}/finish", {**teller, "Idempotency-Key": uuid.uuid4().hex}, {"outcome": "completed"})
    assert finished["ticket"]["status"] == "served" and finished["ticket"]["outcome"] == "completed"
    none = await _measured(service, branch, "/call-next", teller)
    assert none["ticket"] is None

    async with service.runtime.sessions() as s:
        row = (await s.execute(select(tickets).where(tickets.c.ticket_id == tid))).one()
        learned = (await s.execute(select(service_time_stats.c.teller_id, service_time_stats.c.served).where(service_time_stats.c.branch_id == branch.branch_id))).all()
    assert (row.status, row.call_count, row.teller_id, row.outcome) == ("served", 2, f"teller-{branch.counters[0]}", "completed")
    assert row.serving_started_at is not None and row.finished_at >= row.serving_started_at
    assert sorted(learned) == [("*", 1), (f"teller-{branch.counters[0]}", 1)]
    kinds = await _events(service, tid)
    assert kinds[1:] == ["branch.ticket.called.v1", "branch.ticket.recalled.v1", "branch.ticket.serving_started.v1", "branch.ticket.served.v1"], kinds
    stream = await service.runtime.redis.xrange(f"{service.settings.redis_prefix}display:{branch.branch_id}")
    assert [(f["ticket_id"], f["recall"]) for _, f in stream] == [(tid, "false"), (tid, "true")]


async def test_call_of_a_named_ticket_and_no_show_stay_within_budget(service: Service) -> None:
    branch = await make_branch(service, no_show_after_calls=2)
    teller = service.staff("teller", [branch.branch_id], subject=f"teller-{branch.counters[0]}")
    await take_ticket(service, branch)
    second = await take_ticket(service, branch)
    called = await _measured(service, branch, f"/tickets/{second['ticket_id']}/call", teller, redis=1)
    assert called["ticket"]["ticket_id"] == second["ticket_id"]
    too_early = await _post(service, branch, f"/tickets/{second['ticket_id']}/no-show", teller)
    assert too_early.status_code == 409 and too_early.json()["type"].endswith("too-few-calls"), too_early.text
    await _measured(service, branch, f"/tickets/{second['ticket_id']}/recall", teller, redis=1)
    gone = await _measured(service, branch, f"/tickets/{second['ticket_id']}/no-show", teller)
    assert gone["ticket"]["status"] == "no_show"
    assert (await _events(service, second["ticket_id"]))[-1] == "branch.ticket.no_show.v1"


async def test_the_counter_is_not_blind_to_a_transaction(service: Service) -> None:
    """Calibration: an ordinary transaction (BEGIN, a query, COMMIT) counts three."""
    with counting(service.runtime.engine) as counts:
        async with service.runtime.engine.connect() as conn, conn.begin():
            await conn.execute(text("SELECT 1"))
    assert counts.postgres - counts.prepares == 3, counts.statements


async def test_replaying_an_action_key_costs_one_read_and_repeats_the_answer(service: Service) -> None:
    branch = await make_branch(service)
    teller = service.staff("teller", [branch.branch_id], subject=f"teller-{branch.counters[0]}")
    await take_ticket(service, branch)
    key = {**teller, "Idempotency-Key": uuid.uuid4().hex}
    first = await _post(service, branch, "/call-next", key)
    assert first.status_code == 200, first.text
    with counting(service.runtime.engine) as counts:
        again = await _post(service, branch, "/call-next", key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert counts.postgres - counts.prepares == 1 and counts.redis == 0, counts.statements
