"""The domain clock of a service: where every business "now" comes from (ADR 0011).

Two clocks, chosen by the shared settings ``CF_CLOCK`` (``system`` by default) and
``CF_CLOCK_KEY``:

- :class:`SystemClock`: the machine's clock (``datetime.now(UTC)``); no I/O.
- :class:`RedisClock`: a simulated clock whose instant a driver (the replay,
  ``make demo``) writes to one Redis key, as an ISO 8601 string with its UTC offset;
  every reading is one ``GET``. A missing or unreadable key raises :class:`ClockNotSet`
  (an HTTP request then gets a 503 problem naming the key) rather than falling back to
  real time: mixing real and simulated instants would corrupt every wait the service
  computes.

The domain clock covers what the business sees (ticket issue and call times, business
day, offer and draft lifetimes, device report times, event ``time``). Token expiry, rate
limits, outbox ``sent_at`` and consumer bookkeeping stay on the real clock: they protect
the process, not the domain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis

from counterflow_shared.web.problems import Problem

#: Values of the ``clock`` setting.
CLOCK_KINDS = ("system", "redis")
#: Name of the simulated clock's key after the deployment's topic prefix.
CLOCK_KEY_SUFFIX = "counterflow:clock"


def default_clock_key(topic_prefix: str) -> str:
    """The Redis key of the simulated clock of a deployment with ``topic_prefix``
    (``"" -> "counterflow:clock"``; a test's ``"t1a2b."`` -> ``"t1a2b.counterflow:clock"``)."""
    return f"{topic_prefix}{CLOCK_KEY_SUFFIX}"


class ClockNotSet(Problem):
    """The simulated clock's key is missing or does not hold an aware ISO 8601 instant
    (HTTP 503 ``clock-not-set``; ``key`` names the Redis key)."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(503, "clock-not-set", "Simulated clock not set", f"the simulated clock (Redis key {key!r}) {why}", key=key)


class Clock(Protocol):
    """Source of the current domain instant."""

    simulated: bool

    async def now(self) -> datetime:
        """The current instant, an aware UTC datetime.

        Raises:
            ClockNotSet: a simulated clock has no instant.
        """
        ...  # pragma: no cover - protocol


class SystemClock:
    """The machine's clock (the default)."""

    simulated = False

    async def now(self) -> datetime:
        """``datetime.now(UTC)``."""
        return datetime.now(UTC)


class FixedClock:
    """A clock standing at ``at`` until moved (tests and tools); ``at`` must be aware.

    Raises:
        ValueError: a naive ``at``.
    """

    simulated = True

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        """Move the clock to ``at`` (aware).

        Raises:
            ValueError: a naive ``at``.
        """
        if at.tzinfo is None:
            raise ValueError("clock instant must be timezone-aware")
        self.at = at.astimezone(UTC)

    async def now(self) -> datetime:
        """The instant the clock stands at."""
        return self.at


def parse_instant(raw: str | bytes | None, key: str) -> datetime:
    """The aware UTC instant stored under ``key``.

    Raises:
        ClockNotSet: ``raw`` is ``None`` (no key), not ISO 8601, or has no UTC offset.
    """
    if raw is None:
        raise ClockNotSet(key, "is not set: the driver of the simulated time must write it first")
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ClockNotSet(key, f"holds {text[:40]!r}, not an ISO 8601 instant") from exc
    if at.tzinfo is None:
        raise ClockNotSet(key, f"holds {text[:40]!r} without a UTC offset")
    return at.astimezone(UTC)


class RedisClock:
    """The simulated clock: the instant stored under ``key`` in Redis (one ``GET`` per
    reading); see :func:`set_simulated_now` for the writer's side."""

    simulated = True

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis, self.key = redis, key

    async def now(self) -> datetime:
        """The stored instant.

        Raises:
            ClockNotSet: the key is missing or malformed.
        """
        return parse_instant(await self.redis.get(self.key), self.key)


async def set_simulated_now(redis: Redis, key: str, at: datetime) -> None:
    """Write ``at`` (aware) as the simulated clock's instant under ``key``.

    Raises:
        ValueError: a naive ``at``.
    """
    if at.tzinfo is None:
        raise ValueError("clock instant must be timezone-aware")
    await redis.set(key, at.astimezone(UTC).isoformat())


def make_clock(kind: str, redis: Redis, key: str) -> SystemClock | RedisClock:
    """The clock of setting ``kind`` (:data:`CLOCK_KINDS`).

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind == "system":
        return SystemClock()
    if kind == "redis":
        return RedisClock(redis, key)
    raise ValueError(f"unknown clock {kind!r}; expected one of {CLOCK_KINDS}")
