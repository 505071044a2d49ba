"""The live stream across instances (Redis pub/sub) and the per-customer rate limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionStatus
from counterflow_mobile_gateway.main import create_app


async def test_a_client_on_another_instance_is_notified(client, producer, topic_prefix, kit, database, redis_prefix):
    """Instance 2 runs no consumers (API only): an event consumed by instance 1 reaches
    a client connected to instance 2 only through Redis."""
    customer = await kit.new_customer(client)
    api_only = create_app(kit.make_settings(database, topic_prefix, redis_prefix, embedded_workers=False))
    async with kit.serve(api_only) as client2:
        assert api_only.state.runtime.consumers == []
        async with kit.SseClient(client2, customer.headers) as stream:
            event = DiversionAccepted(
                diversion_id=f"d-{uuid.uuid4().hex[:10]}", branch_id="b-x", customer_id=customer.customer_id, service_type="statement", channel="mobile",
                rule_set_version=1, rule_id="r1", status=DiversionStatus.ACCEPTED, occurred_at=datetime.now(UTC),
            )
            await kit.emit(producer, topic_prefix, event)
            got = await stream.wait_for(lambda ev, d: ev == "notification" and d["kind"] == "draft_waiting", what="notification on the other instance")
            assert got[0][1]["data"]["diversion_id"] == event.diversion_id
            await stream.wait_for(lambda ev, d: ev == "draft" and d["diversion_id"] == event.diversion_id, what="draft update")


async def test_a_slow_client_loses_the_oldest_live_messages_not_the_feed(app):
    from counterflow_mobile_gateway.events.fanout import Fanout, Push

    hub = Fanout(app.state.runtime.redis, "unused", queue_size=3)
    q = hub.connect("c1")
    for i in range(5):
        hub._dispatch(Push("c1", "notification", {"i": i}).encode())  # noqa: SLF001 - dispatch without Redis
    assert [q.get_nowait()["data"]["i"] for _ in range(3)] == [2, 3, 4]
    hub.disconnect("c1", q)
    assert hub.connections == 0


async def test_rate_limit_per_customer(client, kit, database, topic_prefix, redis_prefix):
    limited = create_app(kit.make_settings(database, topic_prefix, f"{redis_prefix}rl:", embedded_workers=False, rate_limit_requests=5, rate_limit_window_s=3600))
    a, b = await kit.new_customer(client), await kit.new_customer(client)
    async with kit.serve(limited) as c:
        answers = await asyncio.gather(*(c.get("/v1/tickets", headers=a.headers) for _ in range(8)))
        assert sorted(r.status_code for r in answers) == [200] * 5 + [429] * 3
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/rate-limited") and 0 < int(refused.headers["Retry-After"]) <= 3600
        assert (await c.get("/v1/tickets", headers=b.headers)).status_code == 200


async def test_the_stream_ends_when_the_token_expires(client, app, kit):
    customer = await kit.new_customer(client, ttl_s=2)
    headers = customer.headers
    events = []
    async with client.stream("GET", "/v1/notifications/stream", headers=headers, timeout=15) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                events.append(line[6:].strip())
    assert events == ["ready", "token_expired"]
