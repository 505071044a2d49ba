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


async def test_empty_redis_is_rebuilt_from_the_compacted_topic(infrastructure: PlatformSettings, topic_prefix: str) -> None:
    """Two activations on channel.rules.v1, then a new instance with an empty read model:
    ensure_built replays the topic and decides with the last activation."""
    import uuid

    from counterflow_shared.events.catalog import CHANNEL_RULES
    from counterflow_shared.events.envelope import new_event
    from counterflow_shared.events.kafka import new_producer
    from counterflow_shared.rules.active import ActiveRuleSet

    scope = f"scope-{uuid.uuid4().hex[:8]}"  # its own key on the shared session topic
    topic = f"{topic_prefix}{CHANNEL_RULES.name}"
    producer = new_producer(infrastructure.kafka_bootstrap_servers, client_id="rules-test")
    await producer.start()
    try:
        for version, at, doc in ((1, T0, {"schema_version": 1, "name": "tickets", "rules": []}), (2, T0 + timedelta(minutes=1), device_rule_set())):
            event = _activation(version, at, doc).model_copy(update={"scope": scope})
            await producer.send_and_wait(topic, key=scope.encode(), value=new_event(event, source="/counterflow/test").to_bytes())
    finally:
        await producer.stop()
    redis = Redis.from_url(infrastructure.redis_url, decode_responses=True)
    model = ActiveRuleSet(redis, key_prefix=f"{topic_prefix}rules-rebuild:", scope=scope)
    try:
        assert await model.current() is None
        assert await model.ensure_built(infrastructure.kafka_bootstrap_servers, topic)
        d = decide(await model.current(), request())
        assert (d.rule_set_version, d.rule_id) == (2, "to-device")
        assert not await model.ensure_built(infrastructure.kafka_bootstrap_servers, topic)  # built once
    finally:
        await redis.delete(model.key, f"{model.key}:built")
        await redis.aclose()


async def test_consumer_handler_applies_after_commit_and_keeps_a_valid_set(infrastructure: PlatformSettings, topic_prefix: str) -> None:
    """The handler writes nothing itself; its after-commit step stores the activation, and
    an activation with an invalid document never replaces the valid one."""
    from counterflow_shared.events.envelope import new_event
    from counterflow_shared.rules.active import ActiveRuleSet

    redis = Redis.from_url(infrastructure.redis_url, decode_responses=True)
    model = ActiveRuleSet(redis, key_prefix=f"{topic_prefix}rules-handler:")
    handle = model.handler()
    try:
        good = _activation(3, T0, device_rule_set())
        after = await handle(None, new_event(good, source="/t"), good)  # type: ignore[arg-type]
        assert await model.current() is None and after is not None
        await after()
        assert (await model.current()).version == 3
        bad = _activation(4, T0 + timedelta(minutes=1), {"schema_version": 1, "name": "bad", "rules": [{"id": "x"}]})
        await (await handle(None, new_event(bad, source="/t"), bad))()  # type: ignore[arg-type]
        assert (await model.current()).version == 3
    finally:
        await redis.delete(model.key)
        await redis.aclose()
