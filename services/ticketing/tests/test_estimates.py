"""Wait estimates: free counters mean 0, no counter means unknown, the QL formula with
per-teller learned speeds; every waiting ticket carries the median, an 80 % interval and
the probability of being called within the SLA."""

from __future__ import annotations

import math

import pytest

from counterflow_ticketing.domain.estimation import LearnedTime, expected_wait_s, mean_service_s, naive_wait_s, updated_mean

from .conftest import Service, make_branch, take_ticket


async def test_three_free_counters_first_three_wait_zero(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"], ["cash"], ["cash"]])
    tickets = [await take_ticket(service, branch) for _ in range(4)]
    assert [t["estimated_wait_s"] for t in tickets[:3]] == [0.0, 0.0, 0.0]
    assert [t["estimated_wait_p90_s"] for t in tickets[:3]] == [0.0, 0.0, 0.0]
    assert [t["p_called_within_sla"] for t in tickets[:3]] == [1.0, 1.0, 1.0]
    # fourth: all three busy with the first three; one service completion at rate 3/180 s:
    # exponential with mean 60 s before anything is learned, median 60 ln 2 = 41.6 s
    # (the Wilson-Hilferty approximation gives 60 (8/9)^3 = 42.1 s)
    fourth = tickets[3]
    assert fourth["estimated_wait_s"] == pytest.approx(60 * (8 / 9) ** 3, abs=0.1)
    assert abs(fourth["estimated_wait_s"] - 60 * math.log(2)) < 1.0
    assert 0 < fourth["estimated_wait_p10_s"] < fourth["estimated_wait_s"] < fourth["estimated_wait_p90_s"]
    assert fourth["estimated_wait_p90_s"] == pytest.approx(-60 * math.log(0.1), rel=0.05)  # exponential P90
    assert fourth["p_called_within_sla"] == pytest.approx(1 - math.exp(-600 / 60), abs=0.01)
    assert [t["position"] for t in tickets] == [1, 2, 3, 4]


async def test_no_open_counter_means_unknown_never_zero(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"]], open_sessions=False)
    ticket = await take_ticket(service, branch)
    assert ticket["estimated_wait_s"] is None
    assert ticket["estimated_wait_p10_s"] is None and ticket["estimated_wait_p90_s"] is None and ticket["p_called_within_sla"] is None
    payments = await make_branch(service, counters=[["cash"]])
    other_skill = await take_ticket(service, payments, "transfer")  # the open counter cannot serve transfers
    assert other_skill["estimated_wait_s"] is None


async def test_paused_counter_does_not_count(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"]])
    (counter,) = branch.counters
    r = await service.client.post(f"/v1/counters/{counter}/session/pause", headers=service.staff("teller", [branch.branch_id], subject=f"teller-{counter}"))
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert (await take_ticket(service, branch))["estimated_wait_s"] is None


def test_queue_length_predictor_with_heterogeneous_tellers() -> None:
    rates = [1 / 100, 1 / 200]  # one teller twice as fast as the other
    assert expected_wait_s(ahead=1, free=2, rates_per_s=rates) == 0.0
    # two ahead, none free: third completion-equivalent (n + 1) / (sum of rates)
    assert expected_wait_s(ahead=2, free=0, rates_per_s=rates) == pytest.approx(3 / (0.01 + 0.005))
    with_abandonment = expected_wait_s(ahead=2, free=0, rates_per_s=rates, abandon_rate_per_s=0.001)
    assert with_abandonment == pytest.approx(sum(1 / (0.015 + j * 0.001) for j in range(3)))
    assert with_abandonment < 200
    assert expected_wait_s(ahead=0, free=0, rates_per_s=[]) is None
    assert naive_wait_s(position=3, mean_service_s=150, servers=2) == 225
    assert naive_wait_s(position=3, mean_service_s=150, servers=0) is None
    with pytest.raises(ValueError):
        expected_wait_s(ahead=-1, free=0, rates_per_s=rates)


def test_learned_mean_needs_history_then_prefers_the_teller() -> None:
    learned = {("cash_withdrawal", "*"): LearnedTime(150.0, 40), ("cash_withdrawal", "fast"): LearnedTime(90.0, 12), ("cash_withdrawal", "new"): LearnedTime(400.0, 2)}
    assert mean_service_s(teller_id="fast", service_type="cash_withdrawal", learned=learned, default_s=180) == 90.0
    assert mean_service_s(teller_id="new", service_type="cash_withdrawal", learned=learned, default_s=180) == 150.0  # too little history
    assert mean_service_s(teller_id="x", service_type="transfer", learned=learned, default_s=180) == 180.0
    mean = 0.0
    for i, x in enumerate([100.0, 200.0, 300.0]):
        mean = updated_mean(mean, i, x)
    assert math.isclose(mean, 200.0)


async def test_finished_service_times_are_learned_per_teller(service: Service, clock) -> None:
    from datetime import timedelta

    from .conftest import utc

    branch = await make_branch(service, counters=[["cash"]])
    (counter,) = branch.counters
    h = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    t = utc(2024, 6, 3, 9, 0)
    for _ in range(6):
        clock(t)
        ticket = await take_ticket(service, branch)
        await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)
        await service.client.post(f"/v1/counters/{counter}/tickets/{ticket['ticket_id']}/start", headers=h)
        t += timedelta(seconds=90)
        clock(t)
        await service.client.post(f"/v1/counters/{counter}/tickets/{ticket['ticket_id']}/finish", json={}, headers=h)
    clock(t)
    await take_ticket(service, branch)
    second = await take_ticket(service, branch)
    # learned 90 s instead of the 180 s default, and a spread fitted to six identical
    # service times (cv2 at its floor 0.05): the median is close to the mean
    assert 85.0 < second["estimated_wait_s"] < 90.0
    # (exponential service would give an 80 % interval 9.5 .. 207 s wide)
    assert second["estimated_wait_p90_s"] - second["estimated_wait_p10_s"] < 60.0
