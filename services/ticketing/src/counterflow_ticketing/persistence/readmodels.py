"""Read models in Redis, shared by every instance of the service and rebuildable from
compacted topics (``customer.scores.v1``, ``selfservice.devices.v1``,
``channel.rules.v1``). Also the calling-display streams and kiosk rate limits.

Keys (all under the service's ``redis_prefix``):

* ``score:<customer_id>`` JSON ``{"tier", "propensity"}``
* ``branch-devices:<branch_id>`` hash: device id -> JSON of its last ``DeviceState``
  (one ``HGETALL`` gives the rules hook every device of the branch)
* ``rules:active:<scope>``: the active rule set, kept by the shared
  :class:`~counterflow_shared.rules.active.ActiveRuleSet` (ADR 0154)
* ``built:<topic>`` marker: the model was rebuilt from that topic
* ``display:<branch_id>`` stream of calls (Redis stream ids are the SSE event ids)
* ``rl:<kiosk_id>:<minute>`` request counter of a kiosk in one UTC minute
* ``load:<branch_id>`` JSON ``{"abandon_rate", "sla_share", "overtake_rate",
  "sla_targets"}`` measured by the load loop
  (which may run in a worker process, not in the API process that issues tickets)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.readmodel import CustomerScores, ReadModelGuard
from counterflow_shared.rules import DeviceView
from counterflow_shared.rules.active import ActiveRuleSet
from counterflow_shared.rules.engine import RuleSet


@dataclass(frozen=True)
class BranchLoad:
    """What the load loop last measured of a branch: ``abandon_rate`` (1/s, leaving rate
    of one waiting customer) and ``sla_share`` (share served within the SLA target in
    the SLA window, ``None`` when nobody was served in it) and ``overtake_rate`` (1/s,
    arrival rate of tickets with priority, which overtake priority-0 tickets), plus the
    branch's SLA targets ``sla_targets`` (seconds; service type or ``"*"`` for the
    branch default -> target; empty: the service settings' target applies), so that
    every estimate of ``p_called_within_sla`` uses the branch's target without a query."""

    abandon_rate: float = 0.0
    sla_share: float | None = None
    overtake_rate: float = 0.0
    sla_targets: dict[str, float] = field(default_factory=dict)

    def sla_target_s(self, service_type: str, fallback_s: float) -> float:
        """The SLA target (seconds) of ``service_type``: its own, else the branch
        default, else ``fallback_s`` (the service setting)."""
        return self.sla_targets.get(service_type) or self.sla_targets.get("*") or fallback_s


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
        """Store a device's last state under its branch."""
        await self.redis.hset(self.key("branch-devices", state.branch_id), state.device_id, state.model_dump_json())

    async def put_branch_load(self, branch_id: str, load: BranchLoad) -> None:
        """Store the branch's last measured :class:`BranchLoad`."""
        await self.redis.set(self.key("load", branch_id), json.dumps(asdict(load)))

    async def branch_load(self, branch_id: str) -> BranchLoad:
        """The branch's last measured :class:`BranchLoad` (defaults before the first)."""
        raw = await self.redis.get(self.key("load", branch_id))
        return BranchLoad(**json.loads(raw)) if raw else BranchLoad()

    async def kiosk_state(self, *, kiosk_id: str | None, minute: int, branch_id: str, customer_id: str | None, rules: ActiveRuleSet) -> "KioskState":
        """Everything a decision needs from Redis in one pipeline (one round trip): the
        kiosk's request count in UTC ``minute`` (counted now; no count without
        ``kiosk_id``), the customer's score, the active rule set's version stamp, the
        branch's devices and its :class:`BranchLoad`.

        The same round trip reads the guard's markers: when a read model is gone (Redis
        flushed or restarted) it waits for the rebuild and reads again, so no decision is
        taken on empty state.

        Raises:
            Problem: 503 ``read-model-rebuilding`` when the rebuild takes longer than the
                guard's ``wait_s``.
        """
        markers = self.guard.markers if self.guard is not None else []
        async with self.redis.pipeline(transaction=False) as pipe:
            if kiosk_id is not None:
                rl = self.key("rl", kiosk_id, str(minute))
                pipe.incr(rl)
                pipe.expire(rl, 120)
            rules.queue_stamp(pipe)
            pipe.hgetall(self.key("branch-devices", branch_id))
            pipe.get(self.key("load", branch_id))
            pipe.get(self.scores.key(customer_id or ""))
            for m in markers:
                pipe.exists(m)
            got = await pipe.execute()
        count = int(got.pop(0)) if kiosk_id is not None else 0
        if kiosk_id is not None:
            got.pop(0)
        stamp, devices, load_raw, score_raw, *present = got
        if self.guard is not None and not all(present):
            await self.guard.wait_rebuilt([m for m, p in zip(self.guard.models, present, strict=True) if not p])
            return await self.kiosk_state(kiosk_id=None, minute=minute, branch_id=branch_id, customer_id=customer_id, rules=rules) if kiosk_id is None else _with_count(
                await self.kiosk_state(kiosk_id=None, minute=minute, branch_id=branch_id, customer_id=customer_id, rules=rules), count
            )
        score = json.loads(score_raw) if customer_id and score_raw else {}
        return KioskState(
            requests_this_minute=count,
            tier=score.get("tier"),
            propensity=score.get("propensity") or {},
            devices=device_views(devices.values()),
            load=BranchLoad(**json.loads(load_raw)) if load_raw else BranchLoad(),
            stamp=stamp,
            rules=rules,
        )

    async def devices(self, branch_id: str) -> tuple[DeviceView, ...]:
        """The rules engine's view of the branch's devices (by device id)."""
        return device_views((await self.redis.hgetall(self.key("branch-devices", branch_id))).values())

    async def device_states(self, branch_id: str) -> list[DeviceState]:
        """The last known state of every device of the branch (one ``HGETALL``), by id."""
        raws = await self.redis.hgetall(self.key("branch-devices", branch_id))
        return sorted((DeviceState.model_validate_json(raw) for raw in raws.values() if raw), key=lambda s: s.device_id)

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


def device_views(raws: Any) -> tuple[DeviceView, ...]:
    """:class:`DeviceView` of each stored ``DeviceState`` JSON in ``raws``, by device id."""
    views = []
    for raw in raws:
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
                unavailable=dict(s.unavailable_service_types),
            )
        )
    return tuple(sorted(views, key=lambda v: v.device_id))


def _with_count(state: "KioskState", count: int) -> "KioskState":
    from dataclasses import replace

    return replace(state, requests_this_minute=count)


@dataclass(frozen=True)
class KioskState:
    """What :meth:`ReadModels.kiosk_state` read: ``requests_this_minute`` of the kiosk,
    the customer's ``tier`` / ``propensity`` (``None`` / ``{}`` when unknown), the
    branch's ``devices``, its ``load`` and the rule set's version ``stamp``."""

    requests_this_minute: int
    tier: str | None
    propensity: dict[str, float]
    devices: tuple[DeviceView, ...]
    load: BranchLoad
    stamp: str | None
    rules: ActiveRuleSet

    async def rule_set(self) -> RuleSet | None:
        """The compiled active rule set of :attr:`stamp` (compiled once per version)."""
        return await self.rules.compiled_for(self.stamp)
