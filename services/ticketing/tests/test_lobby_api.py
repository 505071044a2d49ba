"""The lobby manager's and teller's views: queue overview (position, estimate, priority
and its reason), counter states, the audited priority raise, concierge requests."""

from __future__ import annotations

from .conftest import Service, make_branch, take_ticket, utc
from .kafka_helpers import data_is, find_events


async def _queue(service: Service, branch, headers=None) -> dict:  # noqa: ANN001
    r = await service.client.get(f"/v1/branches/{branch.branch_id}/queue", headers=headers or branch.lobby)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_overview_gives_each_waiting_ticket_its_position_estimate_and_reason(service: Service, clock) -> None:  # noqa: ANN001
    clock(utc(2026, 12, 2, 9, 0))
    branch = await make_branch(service, counters=[["cash", "payments"]])
    first = await take_ticket(service, branch, "cash_withdrawal")
    second = await take_ticket(service, branch, "cash_withdrawal")
    advice = await take_ticket(service, branch, "account_opening")  # no open counter has the skill
    doc = await _queue(service, branch)
    waiting = {w["number"]: w for w in doc["waiting"]}
    assert [w["number"] for w in doc["waiting"]][:2] == [first["number"], second["number"]]
    assert (waiting[first["number"]]["position"], waiting[second["number"]]["position"]) == (1, 2)
    assert 0 <= waiting[first["number"]]["estimated_wait_s"] < waiting[second["number"]]["estimated_wait_s"]
    assert waiting[advice["number"]]["position"] == 1 and waiting[advice["number"]]["estimated_wait_s"] is None
    assert waiting[first["number"]]["priority_reason"]["explanation"].startswith("walk-in") or waiting[first["number"]]["priority_reason"]["rule"]
    queues = {q["service_type"]: q for q in doc["queues"]}
    assert queues["cash_withdrawal"]["waiting"] == 2 and queues["cash_withdrawal"]["open_counters"] == 1
    assert queues["account_opening"]["open_counters"] == 0 and queues["account_opening"]["estimated_wait_s"] is None
    assert queues["transfer"]["waiting"] == 0 and queues["transfer"]["estimated_wait_s"] is not None
    # a teller of the branch reads it too; staff of another branch do not
    assert (await service.client.get(f"/v1/branches/{branch.branch_id}/queue", headers=branch.teller)).status_code == 200
    other = await make_branch(service)
    assert (await service.client.get(f"/v1/branches/{branch.branch_id}/queue", headers=other.lobby)).status_code == 403


async def test_a_priority_raise_moves_the_ticket_ahead_and_keeps_who_and_why(service: Service, clock) -> None:  # noqa: ANN001
    clock(utc(2026, 12, 2, 9, 0))
    branch = await make_branch(service, counters=[["cash", "payments"]])
    first = await take_ticket(service, branch, "cash_withdrawal")
    second = await take_ticket(service, branch, "cash_withdrawal")
    manager = service.staff("lobby_manager", [branch.branch_id], subject="manager-eva")
    url = f"/v1/branches/{branch.branch_id}/tickets/{second['ticket_id']}/priority"
    assert (await service.client.post(url, json={"priority": 3, "reason": "x"}, headers=branch.teller)).status_code == 403
    r = await service.client.post(url, json={"priority": 3, "reason": "customer feels unwell"}, headers=manager)
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["priority"] == 3 and r.json()["ticket"]["position"] == 1
    doc = await _queue(service, branch)
    assert [w["number"] for w in doc["waiting"]] == [second["number"], first["number"]]
    raised = doc["waiting"][0]["priority_reason"]["raised"]
    assert raised["raised_by"] == "manager-eva" and raised["reason"] == "customer feels unwell" and (raised["from_priority"], raised["to_priority"]) == (0, 3)
    # the raise is an event on the ticket topic (the app shows the new place); the reason stays audited here
    (event,) = await find_events(service.settings, "branch.tickets.v1", data_is(type="branch.ticket.priority_raised.v1", ticket_id=second["ticket_id"]))
    assert (event.data["from_priority"], event.data["priority"], event.data["position"], event.data["raised_by_role"]) == (0, 3, 1, "lobby_manager")
    assert "reason" not in event.data and event.data["status"] == "waiting"
    lower = await service.client.post(url, json={"priority": 2, "reason": "oops"}, headers=manager)
    assert lower.status_code == 422 and lower.json()["errors"][0]["field"] == "body.priority"
    blank = await service.client.post(url, json={"priority": 5, "reason": "   "}, headers=manager)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "body.reason"


async def test_counter_states_show_the_session_teller_and_ticket(service: Service, clock) -> None:  # noqa: ANN001
    clock(utc(2026, 12, 2, 9, 0))
    branch = await make_branch(service, counters=[["cash", "payments"], ["payments"]])
    ticket = await take_ticket(service, branch, "cash_withdrawal")
    teller = service.staff("teller", [branch.branch_id], subject=f"teller-{branch.counters[0]}")
    second = service.staff("teller", [branch.branch_id], subject=f"teller-{branch.counters[1]}")
    assert (await service.client.post(f"/v1/counters/{branch.counters[1]}/session/pause", headers=second)).status_code == 200
    assert (await service.client.post(f"/v1/counters/{branch.counters[0]}/call-next", headers=teller)).status_code == 200
    r = await service.client.get(f"/v1/branches/{branch.branch_id}/counters", headers=branch.teller)
    assert r.status_code == 200, r.text
    states = {c["counter_id"]: c for c in r.json()["counters"]}
    serving = states[branch.counters[0]]
    assert serving["state"] == "serving" and serving["teller_id"] == f"teller-{branch.counters[0]}"
    assert serving["ticket"]["number"] == ticket["number"] and serving["ticket"]["status"] == "called"
    assert "explanation" in serving["ticket"]["priority_reason"]
    assert states[branch.counters[1]]["state"] == "paused" and states[branch.counters[1]]["ticket"] is None


async def test_the_lobby_manager_issues_a_ticket_at_the_door_with_needs(service: Service, clock) -> None:  # noqa: ANN001
    clock(utc(2026, 12, 2, 9, 0))
    branch = await make_branch(service)
    r = await service.client.post(f"/v1/branches/{branch.branch_id}/service-requests", json={"service_type": "transfer", "needs": ["elderly"]}, headers=branch.lobby)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "ticket"
    lobby = await service.client.get(f"/v1/branches/{branch.branch_id}/lobby", headers=branch.lobby)
    assert lobby.status_code == 200
    assert [w["number"] for w in lobby.json()["overview"]["waiting"]] == [r.json()["ticket"]["number"]]
    assert lobby.json()["today"]["issued"] >= 1
    bad = await service.client.post(f"/v1/branches/{branch.branch_id}/service-requests", json={"service_type": "transfer", "needs": ["levitation"]}, headers=branch.lobby)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("body.needs")
