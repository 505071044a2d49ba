"""Reliability benchmark (issue 16), the long form of ``tests/reliability``: a steady
stream of kiosk requests (idempotent retries) against a real ticketing process while one
fault happens, then the counts of ``tests/reliability/harness.py`` (tickets in the
database, distinct issued events on Kafka, lost, duplicated, refusals by kind, slowest
answer, time to recover). A run without any fault is the baseline of the answer times.

Faults measured here: 1 (private Kafka broker stopped 30 s), 2 (ticketing process
SIGKILLed and restarted), 3 (the ticketing worker process SIGTERMed while the private
broker is down: seconds to exit), 4 (poison records on every topic ticketing consumes:
dead letters, unknown types skipped, later good events handled), 5 (Redis state
flushed), 6 (private PostgreSQL stopped 20 s), 7 (a second instance joins the consumer
group mid-stream while app requests flow as events). Faults 3 and 7 also publish app
requests (``remote_requests``), so their ``lost``/``duplicated`` count the consumers'
effects as well.

The issue's figure "no request answered after more than 1 s" is ``answers_over_1s``
(HTTP answers, timeouts included, slower than 1 s; target 0) beside ``slowest_answer_s``.

``python -m bench reliability`` writes ``bench/results/reliability.json``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.common import figure, write_result
from counterflow_testkit import KafkaBroker, PrivatePostgres, drop_database, migrated_database, platform

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability import harness as h  # noqa: E402

TICKETING_DIR = Path(__import__("counterflow_ticketing").__file__).parent
RATE = 20.0  # kiosk requests per second: a busy branch network's door traffic
SECONDS = 60.0
BROKER_DOWN_S = 30.0
POSTGRES_DOWN_S = 20.0


async def _started(workdir: Path, name: str, *, database_url: str, bootstrap: str) -> h.Ticketing:
    t = h.Ticketing(workdir / name, database_url=database_url, bootstrap=bootstrap)
    (workdir / name).mkdir(parents=True, exist_ok=True)
    await t.create_topics()
    t.start(timeout_s=300)
    await t.set_up_branch()
    return t


async def _fault_run(workdir: Path, name: str, *, database_url: str, bootstrap: str, fault_of, fault_at_s: float) -> dict[str, Any]:  # noqa: ANN001
    t = await _started(workdir, name, database_url=database_url, bootstrap=bootstrap)
    try:
        async def nothing() -> None:
            return None

        fault = fault_of(t) if fault_of is not None else nothing
        return await h.run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=fault_at_s, fault=fault, give_up_s=120.0)
    finally:
        t.stop()


async def _consumer_sigterm(workdir: Path, *, database_url: str, broker: KafkaBroker) -> dict[str, Any]:
    """Fault 3 with the worker process beside the API process (both in the group)."""
    t = await _started(workdir, "consumer_sigterm", database_url=database_url, bootstrap=broker.bootstrap)
    worker = t.worker()
    seen: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 300
        while "consumer.started" not in (t.workdir / "worker.log").read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError("the ticketing worker did not start consuming in 300 s")
            await asyncio.sleep(0.5)
        raw = await h.run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=10.0, fault=h.consumer_sigterm_with_broker_down(t, worker, broker, seen), give_up_s=120.0, remote_rate=RATE / 2)
    finally:
        if worker.poll() is None:
            worker.kill()
        t.stop()
    return {**raw, "worker_exit_s": figure(seen["exit_s"], "s", target="< 10 s"), "worker_exit_code": seen["exit_code"]}


async def _poison(workdir: Path, *, database_url: str, bootstrap: str) -> dict[str, Any]:
    """Fault 4: poison then good records on every consumed topic, mid-stream."""
    t = await _started(workdir, "poison", database_url=database_url, bootstrap=bootstrap)
    records, goods = h.poison_records(t)
    out = h.Outcomes()
    try:
        raw = await h.run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=SECONDS / 2, fault=h.poison_every_topic(t, records, goods, out), give_up_s=120.0, out=out)
        deadline = time.monotonic() + 120
        while not {g.id for g in goods} <= await h.processed_event_ids(t.database_url) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        handled = len({g.id for g in goods} & await h.processed_event_ids(t.database_url))
    finally:
        t.stop()
    dead = await h.records_of(t.bootstrap, f"{t.prefix}dlq.ticketing")
    return {**raw, "topics_poisoned": len(goods), "poison_records": 3 * len(goods), "dead_lettered": len(dead), "good_events_after_poison_handled": handled}


async def _rebalance(workdir: Path, *, database_url: str, bootstrap: str) -> dict[str, Any]:
    """Fault 7: a second instance joins the consumer group mid-stream."""
    t = await _started(workdir, "rebalance", database_url=database_url, bootstrap=bootstrap)
    joined: dict[str, Any] = {}
    try:
        async with AsyncExitStack() as stack:
            raw = await h.run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=SECONDS / 2, fault=h.second_instance_joins(t, stack, joined), give_up_s=120.0, remote_rate=RATE)
            (consumer,) = joined["runtime"].consumers
            handled_by_second = consumer.status.processed
    finally:
        t.stop()
    return {**raw, "events_handled_by_second_instance": handled_by_second}


def _figures(raw: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    return {
        **raw,
        "lost": figure(raw["lost"], "tickets", target="0"),
        "duplicated": figure(raw["duplicated"], "tickets", target="0"),
        "slowest_answer_s": figure(raw["slowest_answer_s"], "s", baseline=baseline["slowest_answer_s"], baseline_name="same stream, no fault", target="<= 1 s"),
        "answers_over_1s": figure(raw["answers_over_1s"], "requests", baseline=baseline["answers_over_1s"], baseline_name="same stream, no fault", target="0"),
        "recovery_s": figure(raw["recovery_s"], "s") if raw["recovery_s"] is not None else None,
        "first_ticket_after_fault_s": figure(raw["first_ticket_after_fault_s"], "s") if raw["first_ticket_after_fault_s"] is not None else None,
    }


async def _on_shared_db(run):  # noqa: ANN001, ANN202 - run(url) -> figures
    name, url = migrated_database(TICKETING_DIR, "bench_reliability")
    try:
        return await run(url)
    finally:
        drop_database(name)


async def _on_private_pg(run):  # noqa: ANN001, ANN202 - run(pg, url) -> figures
    pg = PrivatePostgres()
    try:
        pg.start()
        return await run(pg, pg.migrated_database(TICKETING_DIR, "reliability"))
    finally:
        pg.destroy()


async def _on_private_broker(workdir: Path, label: str, run):  # noqa: ANN001, ANN202 - run(broker, url) -> figures
    (workdir / label).mkdir(exist_ok=True)
    broker = KafkaBroker(workdir / label)
    name, url = migrated_database(TICKETING_DIR, "bench_reliability")
    try:
        broker.start()
        return await run(broker, url)
    finally:
        broker.stop()
        drop_database(name)


async def _main() -> dict[str, Any]:
    """Every fault in turn (the newest first); the results file is rewritten after each,
    so an interrupted run keeps what it measured (``pending`` names the rest)."""
    p = platform()
    kafka = p.kafka_bootstrap_servers
    workdir = Path(tempfile.mkdtemp(prefix="cf-reliability-"))
    results: dict[str, Any] = {}
    baseline = await _on_shared_db(lambda url: _fault_run(workdir, "baseline", database_url=url, bootstrap=kafka, fault_of=None, fault_at_s=0.0))
    results["no_fault"] = baseline
    faults = {
        "poison_every_topic": lambda: _on_shared_db(lambda url: _poison(workdir, database_url=url, bootstrap=kafka)),
        "second_instance_joins": lambda: _on_shared_db(lambda url: _rebalance(workdir, database_url=url, bootstrap=kafka)),
        "consumer_sigterm_broker_down": lambda: _on_private_broker(workdir, "kafka-sigterm", lambda broker, url: _consumer_sigterm(workdir, database_url=url, broker=broker)),
        "ticketing_sigkill": lambda: _on_shared_db(lambda url: _fault_run(workdir, "ticketing_sigkill", database_url=url, bootstrap=kafka, fault_of=h.sigkill_and_restart, fault_at_s=SECONDS / 2)),
        "redis_flush": lambda: _on_shared_db(lambda url: _fault_run(workdir, "redis_flush", database_url=url, bootstrap=kafka, fault_of=h.redis_flush, fault_at_s=SECONDS / 2)),
        "postgres_stop_20s": lambda: _on_private_pg(lambda pg, url: _fault_run(workdir, "postgres_stop_20s", database_url=url, bootstrap=kafka, fault_of=lambda t: h.stop_for(pg.stop, pg.start, POSTGRES_DOWN_S), fault_at_s=10.0)),
        "kafka_stop_30s": lambda: _on_private_broker(workdir, "kafka", lambda broker, url: _fault_run(workdir, "kafka_stop_30s", database_url=url, bootstrap=broker.bootstrap, fault_of=lambda t: h.stop_for(broker.stop, broker.start, BROKER_DOWN_S), fault_at_s=10.0)),
    }
    for i, (label, measure) in enumerate(faults.items()):
        _write(results, pending=list(faults)[i:])
        results[label] = _figures(await measure(), baseline)
    _write(results, pending=[])
    return results


def _write(results: dict[str, Any], *, pending: list[str]) -> None:
    write_result("reliability", results, rate_per_s=RATE, stream_s=SECONDS, pending=pending)


def run() -> dict[str, Any]:
    """Run every fault and write ``bench/results/reliability.json`` (after each fault)."""
    return asyncio.run(_main())
