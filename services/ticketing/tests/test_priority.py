"""Priority with ageing: a low-priority walk-in behind a steady stream of priority
customers is called within the branch's maximum wait."""

from __future__ import annotations

from datetime import timedelta

from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_ticketing.domain.context import readmodels_of

from .conftest import Service, make_branch, take_ticket, utc


async def _make_vip(service: Service, customer_id: str) -> None:
    await readmodels_of(service.runtime).put_score(
        CustomerScored(customer_id=customer_id, score=0.97, percentile=0.99, tier="vip", propensity={}, model_version="test", computed_at=utc(2024, 5, 1))
    )


async def test_walk_in_behind_a_stream_of_vips_is_called_within_max_wait(service: Service, clock) -> None:
    max_wait = 600.0
    branch = await make_branch(service, counters=[["cash"]], max_wait_s=max_wait)
    (counter,) = branch.counters
    h = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    base = f"/v1/counters/{counter}"
    t0 = utc(2024, 5, 6, 8, 0)
    for i in range(30):
        await _make_vip(service, f"vip-{branch.branch_id}-{i}")

    clock(t0)
    current = await take_ticket(service, branch)  # the customer being served when the walk-in arrives
    await service.client.post(f"{base}/call-next", headers=h)
    await service.client.post(f"{base}/tickets/{current['ticket_id']}/start", headers=h)
    walk_in = await take_ticket(service, branch)
    assert walk_in["priority"] == 0

    called_before_walk_in = []
    vip = 0
    for minute in range(1, 30):
        now = t0 + timedelta(minutes=minute)
        clock(now)
        vip_ticket = await take_ticket(service, branch, customer_id=f"vip-{branch.branch_id}-{vip}")  # a VIP every minute
        vip += 1
        assert vip_ticket["priority"] > 0
        if minute % 2:
            continue
        # every two minutes the counter finishes its customer and calls the next one
        await service.client.post(f"{base}/tickets/{current['ticket_id']}/finish", json={"outcome": "completed"}, headers=h)
        current = (await service.client.post(f"{base}/call-next", headers=h)).json()["ticket"]
        await service.client.post(f"{base}/tickets/{current['ticket_id']}/start", headers=h)
        if current["ticket_id"] == walk_in["ticket_id"]:
            waited = (now - t0).total_seconds()
            break
        called_before_walk_in.append(current["number"])
    else:
        raise AssertionError("the walk-in was never called")
    assert waited <= max_wait
    assert called_before_walk_in, "priority customers should still go first while the walk-in is young"
