"""deploy/k8s/tools/dlq_replay.py against the real broker, run the way docs/operations.md
says (``python - ... < dlq_replay.py``), under the session's random topic prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from counterflow_shared.events.security import client_options
from counterflow_shared.events.kafka import ensure_topics
from counterflow_shared.events.catalog import BRANCH_TICKETS

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "deploy" / "k8s" / "tools" / "dlq_replay.py"


def _run(bootstrap: str, prefix: str, *args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "CF_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "CF_TOPIC_PREFIX": prefix}
    with TOOL.open() as script:
        result = subprocess.run([sys.executable, "-", *args], stdin=script, env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip(), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


async def _dead_letter(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), acks="all")
    await producer.start()
    try:
        for key, value, original in records:
            headers = [
                ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                ("dlq_error", b"handler failed: boom"),
                ("dlq_original_topic", original.encode()),
                ("dlq_original_partition", b"0"),
                ("dlq_original_offset", b"7"),
                ("dlq_attempts", b"3"),
                ("dlq_at", b"2026-11-29T08:00:00+00:00"),
            ]
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, *, expect: int, wait_s: float) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(BRANCH_TICKETS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            records += [r for rs in batch.values() for r in rs]
            done = all([await consumer.position(tp) >= ends[tp] for tp in partitions])
            if done and len(records) >= expect:
                break
        return records
    finally:
        await consumer.stop()


async def test_replay_republishes_unchanged_once_and_refuses_foreign_topics(infrastructure) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    # topics of its own: the session prefix's dead-letter topics also hold other tests' poison events
    topic_prefix = f"t{uuid.uuid4().hex[:10]}."
    await ensure_topics(bootstrap, prefix=topic_prefix)
    dlq = f"{topic_prefix}dlq.scoring"
    target = f"{topic_prefix}{BRANCH_TICKETS.name}"  # an input of the scoring group
    marker = uuid.uuid4().hex.encode()
    await _dead_letter(bootstrap, dlq, [(b"B001", b'{"n": 1, "m": "' + marker + b'"}', target), (b"B002", b'{"n": 2, "m": "' + marker + b'"}', target)])

    code, summary, log = _run(bootstrap, topic_prefix, "--group", "scoring", "--dry-run")
    assert code == 0 and summary == {"replayed": {target: 2}, "refused": 0, "dry_run": True}, log
    assert not [r for r in await _read_all(bootstrap, target, expect=0, wait_s=2) if marker in r.value]

    code, summary, log = _run(bootstrap, topic_prefix, "--group", "scoring")
    assert code == 0 and summary == {"replayed": {target: 2}, "refused": 0, "dry_run": False}, log
    copies = [r for r in await _read_all(bootstrap, target, expect=2, wait_s=20) if marker in r.value]
    assert sorted((r.key, json.loads(r.value)["n"]) for r in copies) == [(b"B001", 1), (b"B002", 2)]
    for r in copies:
        names = [k for k, _ in r.headers]
        assert names == ["traceparent"], names  # trace context kept, dlq_* headers dropped

    code, summary, _ = _run(bootstrap, topic_prefix, "--group", "scoring")
    assert code == 0 and summary["replayed"] == {}, "a second run replays nothing already replayed"

    foreign = f"{topic_prefix}customer.scores.v1"  # not an input of the scoring group
    await _dead_letter(bootstrap, dlq, [(b"C1", b'{"n": 3}', foreign)])
    code, summary, log = _run(bootstrap, topic_prefix, "--group", "scoring")
    assert code == 1 and summary["refused"] == 1 and summary["replayed"] == {}, log
    assert "is no input of scoring" in log
