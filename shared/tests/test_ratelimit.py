"""The platform's rate limiter (counterflow_shared.web.ratelimit) against a real Redis, and
its stated behaviour when Redis is down: per-process counting with the same limit."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI, Request
from redis.asyncio import Redis

from counterflow_shared.web.problems import Problem, install_problem_handlers
from counterflow_shared.web.ratelimit import RateLimiter


def _app(limiter: RateLimiter) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/hit")
    async def hit(request: Request) -> dict:
        return {"count": await limiter.hit(request.headers["x-caller"])}

    return app


async def _codes(app: FastAPI, caller: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return [await client.get("/hit", headers={"x-caller": caller}) for _ in range(n)]


async def test_two_instances_share_the_limit_through_redis_and_refuse_with_a_retry_after_header(infrastructure):
    prefix = f"test:rl:{uuid.uuid4().hex[:8]}:"
    r1, r2 = Redis.from_url(infrastructure.redis_url), Redis.from_url(infrastructure.redis_url)
    try:
        a, b = RateLimiter(r1, prefix=prefix, limit=4, window_s=3600), RateLimiter(r2, prefix=prefix, limit=4, window_s=3600)
        first = await _codes(_app(a), "kiosk-1", 2)
        second = await _codes(_app(b), "kiosk-1", 3)
        codes = [r.status_code for r in first + second]
        # a fixed window of an hour: at most one boundary in the run, so 4 of the 5 pass in one window
        assert codes.count(429) >= 1 and codes[:4].count(200) >= 3
        refused = next(r for r in first + second if r.status_code == 429)
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 3600 and "retry_after_s" in refused.json()
        assert [r.status_code for r in await _codes(_app(a), "kiosk-2", 1)] == [200]  # per caller
    finally:
        keys = [k async for k in r1.scan_iter(match=prefix + "*")]
        if keys:
            await r1.delete(*keys)
        await r1.aclose()
        await r2.aclose()


async def test_with_redis_down_each_instance_still_limits_with_the_same_limit():
    dead = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    limiter = RateLimiter(dead, prefix="x:", limit=3, window_s=3600)
    try:
        codes = [r.status_code for r in await _codes(_app(limiter), "kiosk-1", 5)]
    finally:
        await dead.aclose()
    assert limiter.degraded
    # never a 5xx, never unlimited: 3 pass in this process's window, then 429 (unless the
    # hour turned in between, which leaves at most one more through)
    assert set(codes) <= {200, 429} and codes.count(200) in (3, 4) and codes[-1] == 429


async def test_the_limit_can_change_per_call(infrastructure):
    redis = Redis.from_url(infrastructure.redis_url)
    prefix = f"test:rl:{uuid.uuid4().hex[:8]}:"
    limiter = RateLimiter(redis, prefix=prefix, limit=100, window_s=3600)
    try:
        now = 3600 * 1000 + 10.0
        assert await limiter.hit("c", limit=1, now=now) == 1
        with pytest.raises(Problem) as refused:
            await limiter.hit("c", limit=1, now=now)
        assert refused.value.status == 429 and refused.value.extra["retry_after_s"] == 3590
    finally:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
