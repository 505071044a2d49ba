"""The gateway obeys the simulated clock (``CF_CLOCK=redis``, ADR 0011): a hand-off draft
of 1993 is live while the Redis clock stands in 1993, its completion and expiry happen at
the simulated instant (event ``time`` included), and the sweeper expires it only when the
simulated clock passes its expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from counterflow_shared.clock import set_simulated_now
from counterflow_testkit import simulated_clock

from .test_drafts import accepted, draft_for

T0 = datetime(1993, 12, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
async def simulated(app):  # noqa: ANN001, ANN201
    async with simulated_clock(app.state.runtime) as clock:
        yield clock


def in_1993(customer_id: str):  # noqa: ANN201
    event = accepted(customer_id, amount="500")
    return event.model_copy(update={"occurred_at": T0, "expires_at": T0 + timedelta(minutes=30)})


async def test_drafts_live_and_expire_on_the_simulated_clock(client, producer, topic_prefix, activity, kit, simulated):  # noqa: ANN001
    redis = simulated.redis
    await set_simulated_now(redis, simulated.key, T0 + timedelta(minutes=1))
    customer = await kit.new_customer(client)
    done, left = in_1993(customer.customer_id), in_1993(customer.customer_id)
    await kit.emit(producer, topic_prefix, done)
    await kit.emit(producer, topic_prefix, left)
    # on the real clock both would have expired at once (1993 is long past)
    first = await draft_for(client, customer, done.diversion_id)
    second = await draft_for(client, customer, left.diversion_id)
    assert first["status"] == second["status"] == "waiting"

    await set_simulated_now(redis, simulated.key, T0 + timedelta(minutes=10))
    r = await client.post(f"/v1/drafts/{first['draft_id']}/complete", json={}, headers=customer.headers)
    assert r.status_code == 200, r.text
    completed = await activity.wait_for(lambda e: e.type == "mobile.draft.completed.v1" and e.data["draft_id"] == first["draft_id"], what="draft completed")
    assert completed[0].time == T0 + timedelta(minutes=10)

    await set_simulated_now(redis, simulated.key, T0 + timedelta(minutes=31))  # past the expiry: the sweeper acts
    expired = await activity.wait_for(lambda e: e.type == "mobile.draft.expired.v1" and e.data["draft_id"] == second["draft_id"], what="draft expired")
    assert expired[0].time == T0 + timedelta(minutes=31)
    assert datetime.fromisoformat(expired[0].data["expired_at"]) == T0 + timedelta(minutes=31)
