"""SLA per branch and service type (issue 17): targets set through the operations API
change the branch's SLA share, which a staff API reads with walk-outs and waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .conftest import Service, make_branch, take_ticket

ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)]


async def test_targets_per_service_type_drive_the_branch_sla_read_by_staff(service: Service, clock) -> None:  # noqa: ANN001
    branch = await make_branch(service, counters=[["cash", "payments"]], hours=ALL_DAY)
    b, (counter,) = branch.branch_id, branch.counters
    teller = service.staff("teller", [b], subject=f"teller-{counter}")
    r = await service.client.put(f"/v1/branches/{b}/sla-targets", json={"default": {"target_s": 600, "window_s": 3600}, "service_types": {"cash_withdrawal": {"target_s": 120}}}, headers=branch.ops)
    assert r.status_code == 200, r.text
    assert r.json()["service_types"] == {"cash_withdrawal": {"target_s": 120.0, "window_s": 3600.0}}
    assert (await service.client.get(f"/v1/branches/{b}/sla-targets", headers=branch.teller)).json() == r.json()

    t0 = datetime.now(UTC).replace(microsecond=0)
    clock(t0)
    cash = [await take_ticket(service, branch, "cash_withdrawal") for _ in range(2)]
    transfer = await take_ticket(service, branch, "transfer")
    gone = await take_ticket(service, branch, "transfer")
    assert (await service.client.post(f"/v1/kiosk/tickets/{gone['ticket_id']}/cancel", headers=branch.kiosk)).status_code == 200

    async def serve_next(at: datetime) -> str:
        clock(at)
        called = (await service.client.post(f"/v1/counters/{counter}/call-next", headers=teller)).json()["ticket"]
        base = f"/v1/counters/{counter}/tickets/{called['ticket_id']}"
        assert (await service.client.post(f"{base}/start", headers=teller)).status_code == 200
        assert (await service.client.post(f"{base}/finish", json={"outcome": "completed"}, headers=teller)).status_code == 200
        return called["ticket_id"]

    served = [await serve_next(t0 + timedelta(seconds=100)), await serve_next(t0 + timedelta(seconds=300)), await serve_next(t0 + timedelta(seconds=400))]
    assert set(served) == {cash[0]["ticket_id"], cash[1]["ticket_id"], transfer["ticket_id"]}

    clock(t0 + timedelta(seconds=500))
    r = await service.client.get(f"/v1/branches/{b}/sla", headers=branch.lobby)
    assert r.status_code == 200, r.text
    doc = r.json()
    by_type = {s["service_type"]: s for s in doc["services"]}
    # the order of calls follows priority; whichever cash ticket came at 100 s made the 120 s target
    waits = {s: (t0 + timedelta(seconds=d) - t0).total_seconds() for s, d in zip(served, (100, 300, 400))}
    cash_waits = sorted(waits[t["ticket_id"]] for t in cash)
    assert (by_type["cash_withdrawal"]["called"], by_type["cash_withdrawal"]["within_target"]) == (2, sum(w <= 120 for w in cash_waits))
    assert by_type["cash_withdrawal"]["target_s"] == 120 and by_type["transfer"]["target_s"] == 600
    assert (by_type["transfer"]["called"], by_type["transfer"]["within_target"], by_type["transfer"]["cancelled"], by_type["transfer"]["walk_outs"]) == (1, 1, 1, 1)
    assert by_type["cash_withdrawal"]["mean_wait_s"] == sum(cash_waits) / 2
    assert (doc["called"], doc["walk_outs"], doc["waiting"]) == (3, 1, 0)
    assert doc["sla_share"] == round((sum(w <= 120 for w in cash_waits) + 1) / 3, 4)

    # a service type the branch does not offer is named; tellers cannot set targets
    bad = await service.client.put(f"/v1/branches/{b}/sla-targets", json={"service_types": {"mortgage": {"target_s": 60}}}, headers=branch.ops)
    assert bad.status_code == 422 and "body.service_types.mortgage" in bad.text
    assert (await service.client.put(f"/v1/branches/{b}/sla-targets", json={}, headers=teller)).status_code == 403
    assert (await service.client.get(f"/v1/branches/{b}/sla", headers=teller)).status_code == 403


async def test_p_called_within_sla_uses_the_branch_target_of_the_service_type(service: Service, clock) -> None:  # noqa: ANN001
    """A waiting ticket's ``p_called_within_sla`` is the chance of being called within its
    branch's target for its service type, not the service-wide 600 s: a 1 s target makes
    it near 0 and a 10 h target near 1, and another service type keeps the default."""
    branch = await make_branch(service, counters=[["cash", "payments"]], hours=ALL_DAY)
    b = branch.branch_id
    clock(datetime.now(UTC).replace(microsecond=0))
    cash = [await take_ticket(service, branch, "cash_withdrawal") for _ in range(4)]
    transfer = await take_ticket(service, branch, "transfer")

    async def p_within(ticket: dict) -> float:
        r = await service.client.get(f"/v1/kiosk/tickets/{ticket['ticket_id']}", headers=branch.kiosk)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "waiting"
        return r.json()["p_called_within_sla"]

    before, transfer_before = await p_within(cash[-1]), await p_within(transfer)
    assert 0.0 < before < 1.0

    async def set_cash_target(target_s: float) -> None:
        r = await service.client.put(f"/v1/branches/{b}/sla-targets", json={"service_types": {"cash_withdrawal": {"target_s": target_s}}}, headers=branch.ops)
        assert r.status_code == 200, r.text

    await set_cash_target(1)
    strict = await p_within(cash[-1])
    await set_cash_target(36_000)
    lenient = await p_within(cash[-1])
    assert strict < 0.05 < before < 0.95 < lenient, (strict, before, lenient)
    assert await p_within(transfer) == transfer_before  # no target of its own: the default
