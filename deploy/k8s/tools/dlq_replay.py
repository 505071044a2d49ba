"""Replay a consumer group's dead-letter topic onto the topics the records came from.

Runs wherever ``counterflow_shared`` and aiokafka are installed, e.g. inside a worker pod
of any service, the script fed on standard input::

    kubectl -n counterflow exec -i deploy/scoring-worker -- \\
        python - --group scoring --dry-run < deploy/k8s/tools/dlq_replay.py

What it does, for ``dlq.<group>`` (with the environment's topic prefix):

* reads the records present when it starts (up to the end offsets taken then), as consumer
  group ``replay.<group>``, so that committed offsets record what was already replayed and
  a second run replays only what was dead-lettered since;
* re-publishes each record, key, value and headers unchanged except the ``dlq_*`` headers
  (trace context ``traceparent`` is kept), to its ``dlq_original_topic``, which must be one
  of the group's input topics in the catalog (anything else is refused and not committed);
* commits each record's offset only after the broker acknowledged the re-published copy
  (``acks=all``, idempotent producer), so a crash replays at most a record twice; the
  consumers skip duplicates by event id.

``--dry-run`` lists what would be replayed and commits nothing. The summary is one JSON
object on standard output: ``{"replayed": {topic: count}, "refused": n, "dry_run": bool}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from counterflow_shared.events.security import client_options
from counterflow_shared.events.catalog import consumer_group

DLQ_HEADERS = ("dlq_error", "dlq_original_topic", "dlq_original_partition", "dlq_original_offset", "dlq_attempts", "dlq_at")


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    """Partition numbers of ``topic``; ``SystemExit`` when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if not described or described[0]["error_code"]:
        raise SystemExit(f"topic {topic} not found")
    return sorted(p["partition"] for p in described[0]["partitions"])


async def replay(bootstrap: str, group_name: str, prefix: str, *, dry_run: bool, limit: int | None, log=sys.stderr) -> dict:
    """Replay ``<prefix>dlq.<group_name>``; returns the summary (see the module docstring).

    Raises:
        KeyError: ``group_name`` is not a consumer group of the catalog.
    """
    group = consumer_group(group_name)
    dlq = prefix + group.dead_letter_topic.name
    allowed = {prefix + t.name for t in group.topics}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **client_options(),
        group_id=f"{prefix}replay.{group.name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = None if dry_run else AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), acks="all", enable_idempotence=True)
    replayed: Counter[str] = Counter()
    refused = 0
    await consumer.start()
    try:
        if producer is not None:
            await producer.start()
        partitions = [TopicPartition(dlq, p) for p in await _partitions(bootstrap, dlq)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        count = 0
        while pending and (limit is None or count < limit):
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=200)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp] or (limit is not None and count >= limit):
                        pending.discard(tp)
                        break
                    headers = dict(record.headers or ())
                    target = headers.get("dlq_original_topic", b"").decode()
                    if target not in allowed:
                        refused += 1
                        print(f"refused {tp.topic}[{tp.partition}]@{record.offset}: original topic {target!r} is no input of {group.name}", file=log)
                        pending.discard(tp)  # stop this partition: committing past it would lose it
                        break
                    count += 1
                    replayed[target] += 1
                    kept = [(k, v) for k, v in (record.headers or ()) if k not in DLQ_HEADERS]
                    if producer is None:
                        print(f"would replay {tp.topic}[{tp.partition}]@{record.offset} -> {target}: {headers.get('dlq_error', b'').decode()[:200]}", file=log)
                        continue
                    await producer.send_and_wait(target, value=record.value, key=record.key, headers=kept)
                    await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
                if tp in pending and await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()
    return {"replayed": dict(replayed), "refused": refused, "dry_run": dry_run}


def main(argv: list[str] | None = None) -> int:
    """Command line; exit status 0, or 1 when a record was refused."""
    parser = argparse.ArgumentParser(description="Replay dlq.<group> onto the records' original topics.")
    parser.add_argument("--group", required=True, help="consumer group of the catalog, e.g. scoring")
    parser.add_argument("--bootstrap", default=os.environ.get("CF_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092"))
    parser.add_argument("--prefix", default=os.environ.get("CF_TOPIC_PREFIX", ""), help="topic prefix (default CF_TOPIC_PREFIX)")
    parser.add_argument("--dry-run", action="store_true", help="list, do not publish or commit")
    parser.add_argument("--limit", type=int, default=None, help="replay at most this many records")
    args = parser.parse_args(argv)
    summary = asyncio.run(replay(args.bootstrap, args.group, args.prefix, dry_run=args.dry_run, limit=args.limit))
    print(json.dumps(summary, sort_keys=True))
    return 1 if summary["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
