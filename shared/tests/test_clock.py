"""The domain clock (ADR 0011) against the real Redis: the simulated clock reads the key
the driver writes, a missing or malformed key is a clear 503 problem, and the settings
select the clock and derive the key from the deployment's topic prefix."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from counterflow_shared.clock import ClockNotSet, FixedClock, RedisClock, SystemClock, make_clock, set_simulated_now
from counterflow_shared.settings import ServiceSettings


@pytest.fixture
async def redis(infrastructure):  # noqa: ANN001, ANN201
    r = Redis.from_url(infrastructure.redis_url, decode_responses=True)
    keys: list[str] = []
    yield r, keys
    if keys:
        await r.delete(*keys)
    await r.aclose()


async def test_the_redis_clock_reads_the_instant_the_driver_wrote(redis):  # noqa: ANN001
    r, keys = redis
    key = f"t{uuid.uuid4().hex[:8]}.counterflow:clock"
    keys.append(key)
    clock = RedisClock(r, key)
    prague = timezone(timedelta(hours=1))
    await set_simulated_now(r, key, datetime(1993, 12, 1, 8, 0, tzinfo=prague))
    assert await clock.now() == datetime(1993, 12, 1, 7, 0, tzinfo=UTC)
    assert (await clock.now()).tzinfo is UTC
    await set_simulated_now(r, key, datetime(1993, 12, 1, 7, 0, 42, tzinfo=UTC))
    assert await clock.now() == datetime(1993, 12, 1, 7, 0, 42, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        await set_simulated_now(r, key, datetime(1993, 12, 1, 7, 0))


async def test_a_missing_or_malformed_key_is_a_503_naming_the_key_never_real_time(redis):  # noqa: ANN001
    r, keys = redis
    key = f"t{uuid.uuid4().hex[:8]}.counterflow:clock"
    keys.append(key)
    clock = RedisClock(r, key)
    with pytest.raises(ClockNotSet) as missing:
        await clock.now()
    assert missing.value.status == 503 and missing.value.body()["key"] == key and "is not set" in missing.value.detail
    await r.set(key, "yesterday")
    with pytest.raises(ClockNotSet, match="not an ISO 8601 instant"):
        await clock.now()
    await r.set(key, "1993-12-01T08:00:00")
    with pytest.raises(ClockNotSet, match="without a UTC offset"):
        await clock.now()


async def test_settings_select_the_clock_and_derive_the_key_from_the_topic_prefix(redis, monkeypatch):  # noqa: ANN001
    r, _ = redis
    assert ServiceSettings().clock == "system"
    assert isinstance(make_clock("system", r, "k"), SystemClock)
    monkeypatch.setenv("CF_CLOCK", "redis")
    s = ServiceSettings(topic_prefix="t1.")
    assert s.clock == "redis" and s.clock_key == "t1.counterflow:clock"
    clock = make_clock(s.clock, r, s.clock_key)
    assert isinstance(clock, RedisClock) and clock.simulated and clock.key == "t1.counterflow:clock"
    monkeypatch.setenv("CF_CLOCK_KEY", "elsewhere")
    assert ServiceSettings(topic_prefix="t1.").clock_key == "elsewhere"
    with pytest.raises(ValueError, match="unknown clock"):
        make_clock("sundial", r, "k")


async def test_system_and_fixed_clocks():
    before = datetime.now(UTC)
    assert before <= await SystemClock().now() <= datetime.now(UTC)
    fixed = FixedClock(datetime(2024, 3, 31, 6, 30, tzinfo=UTC))
    assert await fixed.now() == datetime(2024, 3, 31, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        fixed.set(datetime(2024, 3, 31, 6, 30))
