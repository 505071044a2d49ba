"""The platform's one request rate limiter: a fixed window per caller, counted in Redis.

Every instance of a service counts in the same Redis key (``<prefix><caller>:<window>``,
one ``INCR`` + ``EXPIRE`` in one pipelined round trip), so the limit holds across
instances. Over the limit the request is a 429 problem+json with ``Retry-After`` (a
header, seconds to the next window; RFC 9110 §10.2.3). A fixed window admits up to
``2 * limit`` requests across a window boundary, an accepted trade for one round trip.

When Redis fails (down, timeout, refused) the limiter neither takes the API down nor
stops limiting: it counts in this process's memory with the same windows and limit, so
each instance then admits at most ``limit`` per caller and window (the platform at most
``instances * limit``). It logs ``ratelimit.redis_unavailable`` once per outage and goes
back to Redis at the next request that succeeds. Tested in
``shared/tests/test_ratelimit.py`` against a real Redis and a port nothing listens on.
"""

from __future__ import annotations

import math
import time

import structlog
from redis.asyncio import Redis

from counterflow_shared.web.problems import Problem

log = structlog.get_logger(__name__)


class RateLimiter:
    """Fixed-window limiter of requests per caller.

    Args:
        redis: the service's Redis client.
        prefix: key prefix (the service's own, e.g. ``mobile:rl:``).
        limit: requests admitted per caller and window.
        window_s: window length in seconds (integer, >= 1).
    """

    def __init__(self, redis: Redis, *, prefix: str, limit: int, window_s: int) -> None:
        self.redis, self.prefix, self.limit, self.window_s = redis, prefix, limit, max(1, int(window_s))
        self._local: dict[tuple[str, int], int] = {}
        self.degraded = False

    async def hit(self, caller: str, *, limit: int | None = None, now: float | None = None) -> int:
        """Count one request of ``caller``; returns its count in the current window
        (``limit``: this call's limit when the setting may change at run time).

        Raises:
            Problem: 429 ``rate-limited`` with ``Retry-After`` over the limit.
        """
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        count = await self._count_in_redis(caller, window)
        if count is None:
            count = self._count_locally(caller, window)
        limit = self.limit if limit is None else limit
        if count > limit:
            retry = max(1, math.ceil((window + 1) * self.window_s - now))
            raise Problem(429, "rate-limited", "Too many requests", f"rate limit of {limit} requests per {self.window_s} s exceeded", retry_after_s=retry)
        return count

    async def _count_in_redis(self, caller: str, window: int) -> int | None:
        key = f"{self.prefix}{caller}:{window}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window_s * 2)
                count, _ = await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any Redis failure: count locally instead
            if not self.degraded:
                log.warning("ratelimit.redis_unavailable", error=repr(exc), fallback="per-process counting with the same limit")
            self.degraded = True
            return None
        if self.degraded:
            log.info("ratelimit.redis_back")
            self.degraded = False
            self._local.clear()
        return int(count)

    def _count_locally(self, caller: str, window: int) -> int:
        if len(self._local) > 100_000:  # older windows are never read again
            self._local = {k: v for k, v in self._local.items() if k[1] >= window}
        key = (caller, window)
        self._local[key] = self._local.get(key, 0) + 1
        return self._local[key]
