"""Recovery of ticketing's Redis read models: after the service's Redis state is gone
(the equivalent of FLUSHALL for this service: every key under its prefix deleted, as the
shared Redis must not be flushed), the next kiosk decision does not run on empty state,
the watcher rebuilds the models from the compacted topics while serving, and readiness
and the counters say so."""

from __future__ import annotations

import uuid

from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_testkit import delete_redis_prefix, eventually
from counterflow_ticketing.domain.context import readmodels_of
from counterflow_ticketing.events.handlers import read_model_guard

from .conftest import Service, make_branch, take_ticket, utc
from .kafka_helpers import send


async def test_a_flushed_redis_is_noticed_and_rebuilt_before_any_decision(service: Service) -> None:
    branch = await make_branch(service)
    customer = f"c-{uuid.uuid4().hex[:8]}"
    await send(service.settings, CustomerScored(customer_id=customer, score=0.99, percentile=0.999, tier="private", propensity={}, model_version="t", computed_at=utc(2024, 1, 1)))
    rm = readmodels_of(service.runtime)
    await eventually(lambda: _tier(rm, customer, "private"), what="tier in the read model")
    assert (await take_ticket(service, branch, customer_id=customer))["priority"] == 4
    guard = read_model_guard(service.runtime)
    losses = guard.losses

    assert await delete_redis_prefix(service.settings.redis_url, service.settings.redis_prefix) > 0
    # The very next decision sees the lost markers in its own read and waits for the
    # rebuild: it decides on the rebuilt tier (priority 4, never the empty-state 0) or,
    # when the rebuild takes longer than readmodel_wait_s, refuses with a 503 to retry.
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "customer_id": customer}, headers=branch.kiosk)
    if r.status_code == 503:
        assert r.json()["type"].endswith("/read-model-rebuilding") and r.headers["Retry-After"] == "1", r.text
        await eventually(lambda: _rebuilt(service), timeout_s=15, what="rebuild after the refused request")
        r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "customer_id": customer}, headers=branch.kiosk)
    assert r.status_code == 201 and r.json()["ticket"]["priority"] == 4, r.text
    assert guard.losses == losses + 1
    assert (await rm.score(customer))[0] == "private"

    # Without any request the watcher notices a loss by itself.
    await delete_redis_prefix(service.settings.redis_url, service.settings.redis_prefix)
    await eventually(lambda: _rebuilt(service), timeout_s=15, what="watcher rebuilt the read models")
    assert guard.losses == losses + 2
    ready = (await service.client.get("/readyz")).json()
    assert ready["checks"]["read_models"]["ok"] is True
    assert "rebuild(s) after a loss" in ready["checks"]["read_models"]["detail"]


async def _tier(rm, customer: str, tier: str) -> bool:  # noqa: ANN001
    return (await rm.score(customer))[0] == tier


async def _rebuilt(service: Service) -> bool:
    guard = read_model_guard(service.runtime)
    return not await guard.missing() and not guard.rebuilding
