"""``bounded``: a broker call that ignores its cancellation cannot hold the caller."""

from __future__ import annotations

import asyncio
import time

import pytest

from counterflow_shared.events.kafka import BrokerTimeout, bounded


async def _stubborn(release: asyncio.Event) -> str:
    """Behaves like an aiokafka call that swallows the first cancellation and goes on."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await release.wait()
    return "late"


async def test_a_call_that_swallows_its_cancellation_still_times_out_within_the_bound() -> None:
    release = asyncio.Event()
    started = time.monotonic()
    with pytest.raises(BrokerTimeout, match="stubborn call did not finish within 0.2s"):
        await bounded(_stubborn(release), 0.2, "stubborn call")
    assert time.monotonic() - started < 1.0  # 0.2 s bound + at most 0.2 s for the cancellation
    release.set()
    await asyncio.sleep(0)


async def test_a_call_within_its_bound_returns_its_result_and_its_errors() -> None:
    async def quick() -> int:
        return 7

    async def failing() -> None:
        raise ValueError("broker said no")

    assert await bounded(quick(), 1.0, "quick") == 7
    with pytest.raises(ValueError, match="broker said no"):
        await bounded(failing(), 1.0, "failing")


async def test_a_call_that_honours_its_cancellation_times_out_at_the_bound() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerTimeout):
        await bounded(asyncio.sleep(60), 0.2, "sleep")
    assert time.monotonic() - started < 0.5


async def test_a_call_cancelled_inside_the_client_is_a_broker_timeout_not_the_callers_cancellation() -> None:
    async def torn_down() -> None:
        inner = asyncio.ensure_future(asyncio.sleep(60))
        asyncio.get_running_loop().call_later(0.05, inner.cancel)  # the client cancels its own task
        await inner

    with pytest.raises(BrokerTimeout, match="cancelled inside the Kafka client"):
        await bounded(torn_down(), 5.0, "coordinator call")
