"""Read models in Redis, shared by every instance of the service and rebuildable from
compacted topics (``customer.scores.v1``, ``selfservice.devices.v1``,
``channel.rules.v1``). Also the calling-display streams and kiosk rate limits.

Keys (all under the service's ``redis_prefix``):

* ``score:<customer_id>`` JSON ``{"tier", "propensity"}``
* ``device:<device_id>`` JSON of the last ``DeviceState``; ``devices:<branch_id>`` set of ids
* ``ruleset:<scope>`` JSON ``{"version", "rule_set_id", "document"}``
* ``built:<topic>`` marker: the model was rebuilt from that topic
* ``display:<branch_id>`` stream of calls (Redis stream ids are the SSE event ids)
* ``rl:<kiosk_id>:<minute>`` request counter of a kiosk in one UTC minute
* ``load:<branch_id>`` JSON ``{"abandon_rate", "sla_share"}`` measured by the load loop
  (which may run in a worker process, not in the API process that issues tickets)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_shared.events.payloads.rules import RuleSetActivated
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.readmodel import CustomerScores, ReadModelGuard
from counterflow_shared.rules import DeviceView


@dataclass(frozen=True)
class BranchLoad:
    """What the load loop last measured of a branch: ``abandon_rate`` (1/s, leaving rate
    of one waiting customer) and ``sla_share`` (share served within the SLA target in
    the SLA window, ``None`` when nobody was served in it)."""

    abandon_rate: float = 0.0
    sla_share: float | None = None


@dataclass
class ReadModels:
    """Access to the ticketing read models in ``redis`` under ``prefix``."""

    redis: Redis
    prefix: str
    #: set by :func:`counterflow_ticketing.events.handlers.read_model_guard`: decisions
    #: check its markers and wait for a rebuild instead of deciding on lost state
    guard: ReadModelGuard | None = None

    def key(self, *parts: str) -> str:
        """Full Redis key of ``parts``."""
        return self.prefix + ":".join(parts)

    def __post_init__(self) -> None:
        self.scores = CustomerScores(self.redis, self.prefix)

    async def put_score(self, score: CustomerScored) -> None:
        """Store a customer's tier and propensity (shared :class:`CustomerScores`)."""
        await self.scores.put(score)

    async def score(self, customer_id: str) -> tuple[str | None, dict[str, float]]:
        """``(tier, propensity)`` of a customer; ``(None, {})`` when unknown."""
        return await self.scores.get(customer_id)

    async def put_device(self, state: DeviceState) -> None:
        """Store a device's last state and index it under its branch."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key("device", state.device_id), state.model_dump_json())
            pipe.sadd(self.key("devices", state.branch_id), state.device_id)
            await pipe.execute()

    async def put_branch_load(self, branch_id: str, load: BranchLoad) -> None:
        """Store the branch's last measured :class:`BranchLoad`."""
        await self.redis.set(self.key("load", branch_id), json.dumps({"abandon_rate": load.abandon_rate, "sla_share": load.sla_share}))

    async def decision_state(self, branch_id: str, scope: str = "global") -> tuple[dict[str, Any] | None, tuple[DeviceView, ...], BranchLoad]:
        """What the rules hook needs from Redis: the active rule set (as :meth:`rule_set`),
        the branch's devices (as :meth:`devices`) and its :class:`BranchLoad` (defaults
        before the first measurement), in one round trip when the branch has no devices,
        two otherwise.

        The same round trip reads the guard's markers: when a read model is gone (Redis
        flushed or restarted) it waits for the rebuild and reads again, so no decision is
        taken on empty state.

        Raises:
            Problem: 503 ``read-model-rebuilding`` when the rebuild takes longer than the
                guard's ``wait_s``.
        """
        markers = self.guard.markers if self.guard is not None else []
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key("ruleset", scope))
            pipe.smembers(self.key("devices", branch_id))
            pipe.get(self.key("load", branch_id))
            for m in markers:
                pipe.exists(m)
            raw, ids, load_raw, *present = await pipe.execute()
        if self.guard is not None and not all(present):
            await self.guard.wait_rebuilt([m for m, p in zip(self.guard.models, present, strict=True) if not p])
            return await self.decision_state(branch_id, scope)
        load = BranchLoad(**json.loads(load_raw)) if load_raw else BranchLoad()
        return (json.loads(raw)["document"] if raw else None), await self._device_views(ids), load

    async def device_states(self, branch_id: str) -> list[DeviceState]:
        """The last known state of every device of the branch (two round trips), by id."""
        ids = sorted(await self.redis.smembers(self.key("devices", branch_id)) or ())
        if not ids:
            return []
        raws = await self.redis.mget([self.key("device", i) for i in ids])
        return [DeviceState.model_validate_json(raw) for raw in raws if raw]

    async def _device_views(self, ids: Any) -> tuple[DeviceView, ...]:
        ids = sorted(ids or ())
        if not ids:
            return ()
        raws = await self.redis.mget([self.key("device", i) for i in ids])
        views = []
        for raw in raws:
            if not raw:
                continue
            s = DeviceState.model_validate_json(raw)
            views.append(
                DeviceView(
                    device_id=s.device_id,
                    branch_id=s.branch_id,
                    kind=s.kind,
                    status=s.status,
                    service_types=frozenset(s.available_service_types),
                    cash_available={k: Decimal(v) for k, v in s.cash_available.items()},
                    max_amount={k: Decimal(v) for k, v in s.capabilities.max_amount.items()},
                    queue_length=s.queue_length,
                    expected_wait_s=s.expected_wait_s,
                    forecast_cash_out_at=s.forecast_cash_out_at,
                    accessible=s.accessible,
                    zone=s.zone,
                )
            )
        return tuple(views)

    async def put_rule_set(self, activated: RuleSetActivated) -> None:
        """Store the active rule set of a scope (a lower version never replaces a higher
        one unless it is a rollback)."""
        key = self.key("ruleset", activated.scope)
        current = await self.redis.get(key)
        if current and not activated.rollback and json.loads(current).get("version", -1) > activated.version:
            return
        await self.redis.set(key, json.dumps({"version": activated.version, "rule_set_id": activated.rule_set_id, "document": activated.document}))

    async def rule_set(self, scope: str = "global") -> dict[str, Any] | None:
        """The active rule-set document of ``scope`` or ``None`` when none was activated."""
        raw = await self.redis.get(self.key("ruleset", scope))
        return json.loads(raw)["document"] if raw else None

    async def add_display_call(self, branch_id: str, fields: dict[str, str], maxlen: int) -> str:
        """Append a call to the branch's calling-display stream; returns its stream id."""
        return await self.redis.xadd(self.key("display", branch_id), fields, maxlen=maxlen, approximate=True)

    async def display_tail(self, branch_id: str) -> str:
        """Stream id of the branch's latest call (``"0-0"`` when none): where a new display starts."""
        last = await self.redis.xrevrange(self.key("display", branch_id), count=1)
        return last[0][0] if last else "0-0"

    async def display_before_last(self, branch_id: str, calls: int) -> str:
        """The stream id to read after so that the last ``calls`` calls come first
        (``"0-0"`` when the stream holds no more than that)."""
        got = await self.redis.xrevrange(self.key("display", branch_id), count=calls + 1)
        return got[-1][0] if len(got) == calls + 1 else "0-0"

    async def read_display(self, branch_id: str, last_id: str, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """Calls after stream id ``last_id``, waiting up to ``block_ms`` milliseconds."""
        got = await self.redis.xread({self.key("display", branch_id): last_id}, block=block_ms, count=100)
        return [(i, f) for _, entries in got for i, f in entries]

    async def hit_rate_limit(self, kiosk_id: str, minute: int, limit: int) -> bool:
        """Count one request of ``kiosk_id`` in UTC minute ``minute``; ``True`` when over ``limit``."""
        key = self.key("rl", kiosk_id, str(minute))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count) > limit
