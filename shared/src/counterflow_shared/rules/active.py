"""The active rule set as a read model: every instance of a service decides with the
same version, and an activation or rollback takes effect without restart.

``channel.rules.v1`` is compacted (key ``scope``), so it always holds the last activation.
The service's consumer handler (:meth:`ActiveRuleSet.handler`) writes each
:class:`~counterflow_shared.events.payloads.rules.RuleSetActivated` to one Redis hash
(``<key_prefix>rules:active:<scope>``) after the consumer's transaction commits; a newer
activation (by ``activated_at``) always wins, a redelivered or older one is ignored, so a
rollback (an older *version* activated later) still replaces the current one. Each
instance checks the hash's small ``stamp`` field on every decision (one Redis round trip)
and recompiles only when it changed; the stamp read can ride on a caller's pipeline
(:meth:`ActiveRuleSet.queue_stamp`), so the kiosk pays no extra round trip. Ticketing
and the mobile gateway both use this one read model (ADR 0154). When Redis starts empty, :meth:`ActiveRuleSet.ensure_built`
replays the compacted topic.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.payloads.rules import RuleSetActivated
from counterflow_shared.readmodel import Model, ensure_built, replay_compacted
from counterflow_shared.rules.engine import RuleSet
from counterflow_shared.rules.loader import RuleSetInvalid, load_rule_set

log = structlog.get_logger(__name__)

ACTIVATED_TYPE = "channel.ruleset.activated.v1"

# newer-only write: ARGV = order (epoch microseconds), stamp, payload json
_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], 'order')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'order', ARGV[1], 'stamp', ARGV[2], 'payload', ARGV[3])
return 1
"""


class ActiveRuleSet:
    """The active rule set of one ``scope`` for one service.

    Args:
        redis: the service's Redis client (``decode_responses=True``).
        key_prefix: prefix of the service's Redis keys (e.g. ``"<topic_prefix>ticketing:"``);
            tests use their random topic prefix so runs never share state.
        scope: the ``RuleSetActivated.scope`` this instance follows (``global``).
    """

    def __init__(self, redis: Redis, *, key_prefix: str, scope: str = "global") -> None:
        self.redis = redis
        self.key = f"{key_prefix}rules:active:{scope}"
        self.scope = scope
        self._stamp: str | bytes | None = None  # as the Redis client returns it
        self._compiled: RuleSet | None = None

    async def apply(self, event: RuleSetActivated) -> bool:
        """Store ``event`` if it is newer than the stored activation; ``True`` when stored.

        Raises:
            RuleSetInvalid: the event's document does not validate (nothing is stored).
        """
        if event.scope != self.scope:
            return False
        load_rule_set(event.document, version=event.version, rule_set_id=event.rule_set_id)
        order = int(event.activated_at.timestamp() * 1_000_000)
        stamp = f"{event.version}@{order}"
        stored = await self.redis.eval(_SET_IF_NEWER, 1, self.key, str(order), stamp, event.model_dump_json())
        if stored:
            log.info("rules.activated", scope=self.scope, version=event.version, rollback=event.rollback)
        return bool(stored)

    def queue_stamp(self, pipe: Any) -> None:
        """Queue the read of the version stamp on a Redis pipeline (the caller's one round
        trip); pass the pipeline's answer for it to :meth:`compiled_for`."""
        pipe.hget(self.key, "stamp")

    async def compiled_for(self, stamp: str | bytes | None) -> RuleSet | None:
        """The compiled rule set of version ``stamp`` (read with :meth:`queue_stamp`):
        the cached one while the stamp is unchanged, else the stored activation compiled
        once (one more round trip, once per version and process)."""
        return await self._resolve(stamp)

    async def current(self) -> RuleSet | None:
        """The compiled active rule set (``None`` when none was ever activated)."""
        return await self._resolve(await self.redis.hget(self.key, "stamp"))

    async def _resolve(self, stamp: str | bytes | None) -> RuleSet | None:
        if stamp is None:
            self._stamp, self._compiled = None, None
            return None
        if stamp != self._stamp:
            # stamp and payload in one read: they always belong to the same activation
            stored_stamp, raw = await self.redis.hmget(self.key, ["stamp", "payload"])
            if raw is None:
                return self._compiled
            event = RuleSetActivated.model_validate_json(raw)
            self._compiled = load_rule_set(event.document, version=event.version, rule_set_id=event.rule_set_id)
            self._stamp = stored_stamp
        return self._compiled

    async def activation(self) -> dict[str, Any] | None:
        """The stored activation event (plain data) or ``None``."""
        raw = await self.redis.hget(self.key, "payload")
        return json.loads(raw) if raw else None

    def handler(self) -> Callable[[AsyncSession, Envelope, BaseModel], Awaitable[Callable[[], Awaitable[None]] | None]]:
        """A consumer handler for ``channel.ruleset.activated.v1``: the Redis write runs
        after the consumer's transaction commits (register it under :data:`ACTIVATED_TYPE`)."""

        async def _handle(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> Callable[[], Awaitable[None]] | None:
            assert isinstance(payload, RuleSetActivated)

            async def _after_commit() -> None:
                try:
                    await self.apply(payload)
                except RuleSetInvalid as exc:  # an invalid document never replaces a valid one
                    log.error("rules.activation_rejected", version=payload.version, errors=[e.as_dict() for e in exc.errors])

            return _after_commit

        return _handle

    async def rebuild(self, bootstrap_servers: str, topic: str, *, kafka: dict | None = None) -> int:
        """Replay the compacted ``topic`` (full name, with prefix) into Redis; returns the
        number of activations read. ``kafka``: authentication options
        (:func:`~counterflow_shared.events.security.client_options`; ``None``: the platform's)."""

        async def _apply(envelope: Envelope, payload: BaseModel) -> None:
            if isinstance(payload, RuleSetActivated):
                try:
                    await self.apply(payload)
                except RuleSetInvalid:
                    log.error("rules.replay_invalid_document", version=payload.version)

        return await replay_compacted(bootstrap_servers, topic, _apply, kafka=kafka)

    def model(self, bootstrap_servers: str, topic: str, *, kafka: dict | None = None) -> Model:
        """This read model as a :class:`~counterflow_shared.readmodel.ReadModelGuard` sees
        it (same marker as :meth:`ensure_built`)."""
        return Model(topic, f"{self.key}:built", lambda: self.rebuild(bootstrap_servers, topic, kafka=kafka))

    async def ensure_built(self, bootstrap_servers: str, topic: str, *, kafka: dict | None = None) -> bool:
        """Replay the topic when this read model was never built in this Redis (start-up hook)."""
        return await ensure_built(self.redis, f"{self.key}:built", lambda: self.rebuild(bootstrap_servers, topic, kafka=kafka))
