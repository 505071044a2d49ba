"""Per-customer request rate limit in Redis (fixed window).

A counter per customer and window (``<prefix>rl:<customer>:<window index>``) is
incremented on every request; over ``limit`` the request gets 429 with ``Retry-After``
(seconds to the next window). Shared by every instance because it lives in Redis. A
fixed window admits up to ``2 * limit`` requests across a window boundary, an accepted
trade for one round trip per request (a sliding log would need a sorted set per
customer). A Redis failure lets the request through (availability over strictness).
"""

from __future__ import annotations

import math
import time

import structlog
from redis.asyncio import Redis
from starlette.exceptions import HTTPException

log = structlog.get_logger(__name__)


async def check_rate(redis: Redis, *, prefix: str, customer_id: str, limit: int, window_s: int, now: float | None = None) -> int:
    """Count one request of ``customer_id``; returns the count in the current window.

    Raises:
        HTTPException: 429 (rendered as problem+json) when the count exceeds ``limit``.
    """
    now = time.time() if now is None else now
    window = int(now // window_s)
    key = f"{prefix}rl:{customer_id}:{window}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s * 2)
            count, _ = await pipe.execute()
    except Exception as exc:  # noqa: BLE001 - rate limiting must not take the API down
        log.warning("ratelimit.redis_error", error=repr(exc))
        return 0
    if count > limit:
        retry = max(1, math.ceil((window + 1) * window_s - now))
        raise HTTPException(429, detail=f"rate limit of {limit} requests per {window_s} s exceeded", headers={"Retry-After": str(retry)})
    return int(count)
