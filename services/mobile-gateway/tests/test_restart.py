"""Restarting the gateway: shutdown completes promptly because every background loop
(the sweeper included) stops on the signal, and customer tokens stay valid across the
restart (the gateway holds no key; it verifies against the provider's JWKS, ADR 0211)."""

from __future__ import annotations

import time
import uuid

from counterflow_testkit import migrated_database, drop_database
from counterflow_mobile_gateway.main import create_app

from .conftest import PACKAGE_DIR, make_settings, new_customer, serve


async def test_tokens_survive_a_restart_and_shutdown_is_prompt(topic_prefix: str, redis_prefix: str) -> None:
    name, url = migrated_database(PACKAGE_DIR, "mobile_restart")
    try:
        settings = make_settings(url, topic_prefix, redis_prefix + "restart:", sweep_interval_s=5.0)
        first = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
        stopped_at = None
        async with serve(first) as client:
            customer = await new_customer(client)
            assert (await client.get("/v1/tickets", headers=customer.headers)).status_code == 200
            stopped_at = time.monotonic()
        shutdown_s = time.monotonic() - stopped_at
        # The sweeper sleeps 5 s between rounds and the grace period is 8 s: a loop that
        # missed the signal would hold the shutdown for seconds.
        assert shutdown_s < 3.0, f"shutdown took {shutdown_s:.2f} s"

        second = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
        async with serve(second) as client:
            r = await client.get("/v1/tickets", headers=customer.headers)
            assert r.status_code == 200, r.text
    finally:
        drop_database(name)


async def test_a_flushed_redis_is_noticed_rebuilt_and_reported(topic_prefix: str, redis_prefix: str) -> None:
    from counterflow_testkit import delete_redis_prefix, eventually
    from counterflow_mobile_gateway.domain.channel import read_model_guard

    name, url = migrated_database(PACKAGE_DIR, "mobile_flush")
    own_prefix = redis_prefix + "flush:"
    try:
        settings = make_settings(url, topic_prefix, own_prefix, readmodel_check_s=0.2)
        app = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
        async with serve(app) as client:
            guard = read_model_guard(app.state.runtime)
            assert not await guard.missing()
            assert await delete_redis_prefix(settings.redis_url, own_prefix) > 0
            await eventually(lambda: _rebuilt(guard), timeout_s=20, what="the watcher rebuilt the read models")
            assert guard.losses == 1
            ready = (await client.get("/readyz")).json()["checks"]["read_models"]
            assert ready["ok"] is True and "1 rebuild(s) after a loss" in ready["detail"]
    finally:
        drop_database(name)


async def _rebuilt(guard) -> bool:  # noqa: ANN001
    return guard.losses >= 1 and not guard.rebuilding and not await guard.missing()
