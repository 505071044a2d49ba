"""Live fan-out of customer events to SSE streams through Redis pub/sub.

Every instance of the gateway subscribes once to one Redis channel
(``<redis_prefix>stream``); whoever changes a customer's state (a consumer handler
after its commit, the sweeper) publishes one message there, and each instance hands
it to the in-process queues of that customer's open SSE connections. One subscription
per instance instead of one per customer keeps Redis work at O(instances) per message,
and a customer connected to any instance is reached.

Delivery is best-effort (Redis pub/sub keeps nothing for absent subscribers): the
notification feed in PostgreSQL is the durable record, the stream only says "now".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from redis.asyncio import Redis

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Push:
    """One live message for a customer: SSE ``event`` name (``notification``,
    ``ticket``, ``appointment``, ``draft``) and its JSON-ready ``data``."""

    customer_id: str
    event: str
    data: dict[str, Any]

    def encode(self) -> str:
        """The JSON text sent over Redis."""
        return json.dumps({"customer_id": self.customer_id, "event": self.event, "data": self.data}, separators=(",", ":"), default=str)


@dataclass
class Fanout:
    """The per-instance hub: Redis subscription in, per-customer queues out.

    Args:
        redis: client (``decode_responses=True``).
        channel: the Redis channel shared by all instances.
        queue_size: messages buffered per connection; when a slow client's queue is full
            the oldest message is dropped (the feed still has it).
    """

    redis: Redis
    channel: str
    queue_size: int = 100
    _queues: dict[str, set[asyncio.Queue]] = field(default_factory=lambda: defaultdict(set))
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    delivered: int = 0

    async def publish(self, pushes: list[Push]) -> None:
        """Send ``pushes`` to every instance (one pipelined round trip)."""
        if not pushes:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for push in pushes:
                pipe.publish(self.channel, push.encode())
            await pipe.execute()

    def connect(self, customer_id: str) -> asyncio.Queue:
        """A new queue receiving ``customer_id``'s messages (one per SSE connection)."""
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        self._queues[customer_id].add(queue)
        return queue

    def disconnect(self, customer_id: str, queue: asyncio.Queue) -> None:
        """Forget a connection's queue."""
        queues = self._queues.get(customer_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[customer_id]

    @property
    def connections(self) -> int:
        """Open SSE connections on this instance."""
        return sum(len(q) for q in self._queues.values())

    async def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Wait until the Redis subscription is active (raises ``TimeoutError``)."""
        await asyncio.wait_for(self._ready.wait(), timeout_s)

    def _dispatch(self, raw: str) -> None:
        try:
            msg = json.loads(raw)
            customer_id = msg["customer_id"]
        except (ValueError, KeyError, TypeError):
            log.warning("fanout.bad_message", raw=raw[:200])
            return
        for queue in list(self._queues.get(customer_id, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(msg)
            self.delivered += 1

    async def run(self) -> None:
        """Subscribe and dispatch until cancelled; resubscribes after a Redis error."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis blips must not end the stream service
                self._ready.clear()
                log.warning("fanout.redis_error", error=repr(exc))
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())


def fanout_of(runtime: "ServiceRuntime") -> Fanout:
    """The process's hub (created on first use; its channel is ``<redis_prefix>stream``).
    Publishing works in any process; only API processes run :meth:`Fanout.run`."""
    hub = runtime.state.get("fanout")
    if hub is None:
        s = runtime.settings
        hub = Fanout(runtime.redis, f"{s.redis_prefix}stream", queue_size=s.sse_queue_size)
        runtime.state["fanout"] = hub
    return hub
