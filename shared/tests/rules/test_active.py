"""The active rule set read model against the real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from counterflow_shared.events.payloads.rules import RuleSetActivated
from counterflow_shared.rules import decide
from counterflow_shared.settings import PlatformSettings

from .conftest import device_rule_set, request

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _activation(version: int, at: datetime, document: dict, rollback: bool = False) -> RuleSetActivated:
    return RuleSetActivated(rule_set_id="channel-rules", version=version, document=document, proposed_by="m", approved_by="c", activated_at=at, rollback=rollback)


async def test_newer_activation_wins_and_instances_follow_without_restart(infrastructure: PlatformSettings, topic_prefix: str) -> None:
    from counterflow_shared.rules.active import ActiveRuleSet

    redis_a = Redis.from_url(infrastructure.redis_url, decode_responses=True)
    redis_b = Redis.from_url(infrastructure.redis_url, decode_responses=True)
    prefix = f"{topic_prefix}rules-test:"
    try:
        instance_a = ActiveRuleSet(redis_a, key_prefix=prefix)
        instance_b = ActiveRuleSet(redis_b, key_prefix=prefix)
        assert await instance_b.current() is None
        tickets_only = {"schema_version": 1, "name": "tickets", "rules": []}
        assert await instance_a.apply(_activation(1, T0, tickets_only))
        assert decide(await instance_b.current(), request()).rule_set_version == 1
        assert decide(await instance_b.current(), request()).kind == "ticket"
        assert await instance_a.apply(_activation(2, T0 + timedelta(minutes=1), device_rule_set()))
        d = decide(await instance_b.current(), request())
        assert (d.kind, d.rule_set_version, d.rule_id) == ("offer", 2, "to-device")
        # a redelivered or late older event changes nothing
        assert not await instance_a.apply(_activation(1, T0, tickets_only))
        assert (await instance_b.current()).version == 2
        # a rollback is an older version activated later: it wins
        assert await instance_a.apply(_activation(1, T0 + timedelta(minutes=2), tickets_only, rollback=True))
        assert (await instance_b.current()).version == 1
    finally:
        await redis_a.delete(f"{prefix}rules:active:global")
        await redis_a.aclose()
        await redis_b.aclose()
