"""aiokafka construction with the settings the backbone relies on, and topic admin.

Library facts designed around (aiokafka 0.14): the producer is not idempotent by default
(we set ``enable_idempotence=True``, which implies ``acks='all'``); consumers auto-commit
and start at ``latest`` by default (we turn auto-commit off and start at ``earliest``);
``start()``, ``stop()`` and ``send_and_wait()`` can hang while the broker is down, so
every call here is bounded by :func:`bounded`.

Every function takes ``kafka``: the authentication options of
:func:`counterflow_shared.events.security.client_options` (a service passes those of its own
settings); ``None`` reads the platform's from the environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from counterflow_shared.events.catalog import Topic, all_topics
from counterflow_shared.events.security import client_options

log = structlog.get_logger(__name__)
T = TypeVar("T")


class BrokerTimeout(Exception):
    """A broker call did not finish within its bound (broker down or partitioned)."""


async def bounded(awaitable: Awaitable[T], timeout_s: float, what: str) -> T:
    """Await ``awaitable`` for at most ``timeout_s`` seconds, and return within about
    ``timeout_s + min(1, timeout_s)`` seconds whatever the awaitable does.

    ``asyncio.wait_for`` cancels on timeout and then waits for the cancellation to finish
    without any bound; an aiokafka call that catches the cancellation and goes on (seen
    with ``AIOKafkaConsumer.stop()``/``start()`` while the broker is down) then holds its
    caller for ever. Here the call runs as a task: on timeout it is cancelled, given at
    most ``min(1, timeout_s)`` seconds to finish, and otherwise left behind (logged).

    Raises:
        BrokerTimeout: when the bound is exceeded (the awaitable is cancelled), or the
            awaitable was cancelled by the client itself rather than by our caller.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        if task.cancelled():
            # cancelled inside the client (its own tasks torn down under it), not by our
            # caller: a failed call like any other, never a silent end of the caller's loop
            raise BrokerTimeout(f"{what} was cancelled inside the Kafka client")
        return task.result()
    task.cancel()
    await asyncio.wait({task}, timeout=min(1.0, timeout_s))
    if not task.done():
        log.warning("kafka.call_abandoned", what=what, detail="did not honour its cancellation; left behind")
        task.add_done_callback(_consume_outcome)
    elif not task.cancelled() and task.exception() is None:
        return task.result()  # it finished after all, in the grace
    raise BrokerTimeout(f"{what} did not finish within {timeout_s:.1f}s")


def _consume_outcome(task: "asyncio.Future[Any]") -> None:
    """Retrieve an abandoned task's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def new_producer(bootstrap_servers: str, *, client_id: str, request_timeout_s: float = 5.0, kafka: dict | None = None) -> AIOKafkaProducer:
    """An idempotent producer (``acks=all``, ``enable_idempotence=True``), small linger
    (5 ms) for batching without hurting commit -> broker latency, and 256 KiB batches:
    aiokafka holds one open batch per partition and an idempotent producer one request
    in flight, so the batch size bounds throughput (measured in bench/backbone.py)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=int(request_timeout_s * 1000),
        retry_backoff_ms=100,
        **(kafka if kafka is not None else client_options()),
    )


def new_consumer(bootstrap_servers: str, topics: Iterable[str], *, group_id: str, client_id: str, kafka: dict | None = None) -> AIOKafkaConsumer:
    """A group consumer with manual commits, reading from the earliest offset of a new
    group, returning as soon as one record is available (``fetch_max_wait_ms=100``)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_poll_records=200,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        metadata_max_age_ms=30_000,
        **(kafka if kafka is not None else client_options()),
    )


def new_admin(bootstrap_servers: str, *, timeout_s: float = 30.0, kafka: dict | None = None) -> AIOKafkaAdminClient:
    """An admin client whose requests time out after ``timeout_s`` seconds (not started)."""
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000), **(kafka if kafka is not None else client_options()))


async def ensure_topics(bootstrap_servers: str, *, prefix: str = "", topics: Iterable[Topic] | None = None, timeout_s: float = 30.0, kafka: dict | None = None) -> list[str]:
    """Create every catalog topic (dead-letter topics included) that does not exist yet,
    with the catalog's partitions and cleanup policy; replication factor 1 (single-node
    local broker; on Kubernetes, Strimzi KafkaTopic resources own this).

    Returns:
        the names created by this call (already existing ones are skipped).
    """
    wanted = list(topics if topics is not None else all_topics())
    admin = new_admin(bootstrap_servers, timeout_s=timeout_s, kafka=kafka)
    await bounded(admin.start(), timeout_s, "admin start")
    created: list[str] = []
    try:
        existing = set(await bounded(admin.list_topics(), timeout_s, "list topics"))
        new = [
            NewTopic(name=f"{prefix}{t.name}", num_partitions=t.partitions, replication_factor=1, topic_configs=t.config)
            for t in wanted
            if f"{prefix}{t.name}" not in existing
        ]
        if new:
            try:
                await bounded(admin.create_topics(new), timeout_s, "create topics")
            except TopicAlreadyExistsError:
                pass
            created = [n.name for n in new]
            log.info("topics.created", topics=created)
    finally:
        await bounded(admin.close(), timeout_s, "admin close")
    return created


async def delete_topics(bootstrap_servers: str, names: list[str], timeout_s: float = 30.0, kafka: dict | None = None) -> None:
    """Delete topics by full name (tests clean up their prefixed topics)."""
    admin = new_admin(bootstrap_servers, timeout_s=timeout_s, kafka=kafka)
    await bounded(admin.start(), timeout_s, "admin start")
    try:
        await bounded(admin.delete_topics(names), timeout_s, "delete topics")
    finally:
        await bounded(admin.close(), timeout_s, "admin close")


async def describe_cluster(bootstrap_servers: str, timeout_s: float = 2.0, kafka: dict | None = None) -> dict:
    """Ask the broker for its cluster description; raises on timeout or connection error."""
    admin = new_admin(bootstrap_servers, timeout_s=timeout_s, kafka=kafka)
    try:
        await bounded(admin.start(), timeout_s, "admin start")
        return await bounded(admin.describe_cluster(), timeout_s, "describe cluster")
    finally:
        try:
            await bounded(admin.close(), timeout_s, "admin close")
        except Exception:  # noqa: BLE001 - closing a half-open admin client must not mask the cause
            pass


async def wait_for_broker(bootstrap: str, timeout_s: float = 90.0, kafka: dict | None = None) -> None:
    """Wait until the broker answers a cluster description.

    Raises:
        TimeoutError: not within ``timeout_s`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await describe_cluster(bootstrap, timeout_s=3.0, kafka=kafka)
            return
        except Exception:  # noqa: BLE001
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"broker {bootstrap} not back in {timeout_s}s") from None
            await asyncio.sleep(0.5)
