"""Calling is atomic: two counters calling at once never get the same ticket, and a
specific call of a ticket another counter just took is a 409 naming that counter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from counterflow_ticketing.persistence.tables import backbone

from .conftest import Service, make_branch, take_ticket

ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)]


async def _called_events(service: Service, ticket_ids: list[str]) -> dict[str, int]:
    outbox = backbone["outbox"]
    async with service.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.value).where(outbox.c.headers["ce_type"].as_string() == "branch.ticket.called.v1"))).scalars().all()
    import json

    counts = dict.fromkeys(ticket_ids, 0)
    for raw in rows:
        tid = json.loads(raw)["data"]["ticket_id"]
        if tid in counts:
            counts[tid] += 1
    return counts


async def test_two_counters_calling_next_at_once_one_winner_100_times(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"], ["cash"]])
    headers = [service.staff("teller", [branch.branch_id], subject=f"teller-{c}") for c in branch.counters]
    ticket_ids = []
    for _ in range(100):
        ticket = await take_ticket(service, branch)
        ticket_ids.append(ticket["ticket_id"])
        replies = await asyncio.gather(*(service.client.post(f"/v1/counters/{c}/call-next", headers=h) for c, h in zip(branch.counters, headers, strict=True)))
        assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
        got = [r.json()["ticket"] for r in replies]
        winners = [t for t in got if t is not None]
        assert len(winners) == 1, got
        assert winners[0]["ticket_id"] == ticket["ticket_id"]
        r = await service.client.post(f"/v1/branches/{branch.branch_id}/tickets/{ticket['ticket_id']}/cancel", headers=branch.lobby)
        assert r.status_code == 200, r.text
    counts = await _called_events(service, ticket_ids)
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}


async def test_calling_a_ticket_another_counter_took_is_409_naming_it(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"], ["cash"]])
    a, b = branch.counters
    ticket = await take_ticket(service, branch)
    replies = await asyncio.gather(
        service.client.post(f"/v1/counters/{a}/tickets/{ticket['ticket_id']}/call", headers=service.staff("teller", [branch.branch_id], subject=f"teller-{a}")),
        service.client.post(f"/v1/counters/{b}/tickets/{ticket['ticket_id']}/call", headers=service.staff("teller", [branch.branch_id], subject=f"teller-{b}")),
    )
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 409], [r.text for r in replies]
    winner = a if replies[0].status_code == 200 else b
    loser = next(r for r in replies if r.status_code == 409).json()
    assert loser["type"].endswith("/ticket-taken")
    assert loser["counter_id"] == winner
    assert winner in loser["detail"]


async def test_life_cycle_recall_no_show_and_serve(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"]], no_show_after_calls=2)
    (counter,) = branch.counters
    h = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    first = await take_ticket(service, branch)
    second = await take_ticket(service, branch)
    base = f"/v1/counters/{counter}/tickets"
    assert (await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)).json()["ticket"]["number"] == first["number"]
    early = await service.client.post(f"{base}/{first['ticket_id']}/no-show", headers=h)
    assert early.status_code == 409 and early.json()["type"].endswith("/too-few-calls")
    assert (await service.client.post(f"{base}/{first['ticket_id']}/recall", headers=h)).json()["ticket"]["call_count"] == 2
    assert (await service.client.post(f"{base}/{first['ticket_id']}/no-show", headers=h)).json()["ticket"]["status"] == "no_show"
    assert (await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)).json()["ticket"]["number"] == second["number"]
    busy = await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)
    assert busy.status_code == 409 and busy.json()["type"].endswith("/counter-busy")
    assert (await service.client.post(f"{base}/{second['ticket_id']}/start", headers=h)).json()["ticket"]["status"] == "serving"
    done = await service.client.post(f"{base}/{second['ticket_id']}/finish", json={"outcome": "completed"}, headers=h)
    assert done.json()["ticket"]["status"] == "served" and done.json()["ticket"]["outcome"] == "completed"
    assert (await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)).json()["ticket"] is None


async def test_transfer_to_the_front_of_another_queue(service: Service, clock) -> None:  # noqa: ANN001
    branch = await make_branch(service, counters=[["cash"], ["payments"]], hours=ALL_DAY)
    cash, payments = branch.counters
    at_cash = service.staff("teller", [branch.branch_id], subject=f"teller-{cash}")
    at_payments = service.staff("teller", [branch.branch_id], subject=f"teller-{payments}")
    start = datetime.now(UTC)
    clock(start)
    waiting = await take_ticket(service, branch, "transfer")
    # an hour later the waiting ticket is urgent (aged past the branch's maximum wait)
    clock(start + timedelta(hours=1))
    moving = await take_ticket(service, branch, "cash_withdrawal")
    await service.client.post(f"/v1/counters/{cash}/call-next", headers=at_cash)
    r = await service.client.post(f"/v1/counters/{cash}/tickets/{moving['ticket_id']}/transfer", json={"service_type": "transfer", "position": "front"}, headers=at_cash)
    assert r.status_code == 200, r.text
    moved = r.json()["ticket"]
    assert (moved["status"], moved["position"], moved["number"]) == ("waiting", 1, moving["number"])
    nxt = (await service.client.post(f"/v1/counters/{payments}/call-next", headers=at_payments)).json()["ticket"]
    assert nxt["ticket_id"] == moving["ticket_id"]  # the front means the front, even before an urgent ticket
    assert waiting["ticket_id"] != nxt["ticket_id"]
    counts = await _called_events(service, [moving["ticket_id"]])
    assert counts[moving["ticket_id"]] == 2  # once at the cash counter, once after the transfer


async def test_a_double_click_at_one_counter_calls_one_ticket_20_times(service: Service) -> None:
    """Two call-next at once at the same counter (a double click, two workstations): the
    session guard lets one call; the other answers 409 counter-busy, and the counter
    never has two tickets called."""
    from counterflow_ticketing.persistence.tables import tickets

    branch = await make_branch(service, counters=[["cash"]])
    (counter,) = branch.counters
    teller = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    for _ in range(20):
        for _ in range(2):
            await take_ticket(service, branch)
        replies = await asyncio.gather(*(service.client.post(f"/v1/counters/{counter}/call-next", headers=teller) for _ in range(2)))
        assert sorted(r.status_code for r in replies) == [200, 409], [r.text for r in replies]
        assert [r.json()["type"].rsplit("/", 1)[-1] for r in replies if r.status_code == 409] == ["counter-busy"]
        async with service.runtime.sessions() as s:
            called = (await s.execute(select(tickets.c.ticket_id).where(tickets.c.counter_id == counter, tickets.c.status == "called"))).scalars().all()
        (winner,) = [r.json()["ticket"] for r in replies if r.status_code == 200]
        assert called == [winner["ticket_id"]]
        r = await service.client.post(f"/v1/counters/{counter}/tickets/{winner['ticket_id']}/start", headers=teller)
        assert r.status_code == 200, r.text
        r = await service.client.post(f"/v1/counters/{counter}/tickets/{winner['ticket_id']}/finish", json={"outcome": "completed"}, headers=teller)
        assert r.status_code == 200, r.text
