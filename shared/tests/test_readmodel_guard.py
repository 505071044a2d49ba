"""The read-model guard on a real Redis: a lost marker is noticed, the model is rebuilt
while callers wait at most ``wait_s``, and a rebuild slower than that is a 503 problem
with ``Retry-After`` instead of a decision on empty state."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from counterflow_shared.readmodel import Model, ReadModelGuard
from counterflow_shared.web.problems import Problem


@pytest.fixture
async def redis(infrastructure) -> Redis:  # noqa: ANN001
    r = Redis.from_url(infrastructure.redis_url, decode_responses=True)
    yield r
    await r.aclose()


async def test_a_lost_model_is_rebuilt_and_a_slow_rebuild_answers_503(redis: Redis) -> None:
    prefix = f"test:guard:{uuid.uuid4().hex[:8]}:"
    release = asyncio.Event()
    calls = 0

    async def rebuild() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        await redis.set(prefix + "state", "rebuilt")
        return 7

    guard = ReadModelGuard(redis, [Model("things", prefix + "built", rebuild)], wait_s=0.1)
    try:
        assert [m.name for m in await guard.missing()] == ["things"]
        with pytest.raises(Problem) as slow:
            await guard.require()
        assert (slow.value.status, slow.value.slug, slow.value.extra["retry_after_s"]) == (503, "read-model-rebuilding", 1)
        ok, detail = guard.readiness()
        assert ok and detail.startswith("rebuilding things")
        with pytest.raises(Problem):
            await guard.require()  # joins the same rebuild, does not start a second one
        assert calls == 1
        release.set()
        await guard.require()
        assert await redis.get(prefix + "built") == "7" and await redis.get(prefix + "state") == "rebuilt"
        assert (guard.losses, guard.rebuilds) == (1, 1) and guard.readiness()[1].startswith("built")

        await redis.delete(prefix + "built", prefix + "state")  # Redis flushed
        watcher = asyncio.create_task(guard.watch(0.05))
        for _ in range(100):
            if await redis.get(prefix + "built"):
                break
            await asyncio.sleep(0.05)
        watcher.cancel()
        assert await redis.get(prefix + "state") == "rebuilt" and (guard.losses, calls) == (2, 2)
    finally:
        await guard.close()
        await redis.delete(prefix + "built", prefix + "state")
