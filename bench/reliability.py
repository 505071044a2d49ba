"""Reliability benchmark (issue 16), the long form of ``tests/reliability``: a steady
stream of kiosk requests (idempotent retries) against a real ticketing process while one
fault happens, then the counts of ``tests/reliability/harness.py`` (tickets in the
database, distinct issued events on Kafka, lost, duplicated, refusals by kind, slowest
answer, time to recover). A run without any fault is the baseline of the answer times.

Faults measured here: 1 (private Kafka broker stopped 30 s), 2 (ticketing process
SIGKILLed and restarted), 5 (Redis state flushed), 6 (private PostgreSQL stopped 20 s).
Faults 3 and 4 are measured by the backbone suite (``tests/backbone``); 7 (a second
consumer instance joining mid-stream) is not measured yet.

``python -m bench reliability`` writes ``bench/results/reliability.json``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import figure, write_result
from counterflow_testkit import KafkaBroker, PrivatePostgres, drop_database, migrated_database, platform

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.harness import Ticketing, redis_flush, run_with_fault, sigkill_and_restart, stop_for  # noqa: E402

TICKETING_DIR = Path(__import__("counterflow_ticketing").__file__).parent
RATE = 20.0  # kiosk requests per second: a busy branch network's door traffic
SECONDS = 60.0
BROKER_DOWN_S = 30.0
POSTGRES_DOWN_S = 20.0


async def _fault_run(workdir: Path, name: str, *, database_url: str, bootstrap: str, fault_of, fault_at_s: float) -> dict[str, Any]:  # noqa: ANN001
    t = Ticketing(workdir / name, database_url=database_url, bootstrap=bootstrap)
    (workdir / name).mkdir(parents=True, exist_ok=True)
    await t.create_topics()
    t.start()
    await t.set_up_branch()
    try:
        async def nothing() -> None:
            return None

        fault = fault_of(t) if fault_of is not None else nothing
        return await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=fault_at_s, fault=fault, give_up_s=120.0)
    finally:
        t.stop()


def _figures(raw: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    return {
        **raw,
        "lost": figure(raw["lost"], "tickets", target="0"),
        "duplicated": figure(raw["duplicated"], "tickets", target="0"),
        "slowest_answer_s": figure(raw["slowest_answer_s"], "s", baseline=baseline["slowest_answer_s"], baseline_name="same stream, no fault", target="<= 1 s"),
        "recovery_s": figure(raw["recovery_s"], "s") if raw["recovery_s"] is not None else None,
        "first_ticket_after_fault_s": figure(raw["first_ticket_after_fault_s"], "s") if raw["first_ticket_after_fault_s"] is not None else None,
    }


async def _main() -> dict[str, Any]:
    p = platform()
    workdir = Path(tempfile.mkdtemp(prefix="cf-reliability-"))
    results: dict[str, Any] = {}
    name, url = migrated_database(TICKETING_DIR, "bench_reliability")
    try:
        baseline = await _fault_run(workdir, "baseline", database_url=url, bootstrap=p.kafka_bootstrap_servers, fault_of=None, fault_at_s=0.0)
        results["no_fault"] = baseline
    finally:
        drop_database(name)
    for label, fault_of in (("ticketing_sigkill", sigkill_and_restart), ("redis_flush", redis_flush)):
        name, url = migrated_database(TICKETING_DIR, "bench_reliability")
        try:
            raw = await _fault_run(workdir, label, database_url=url, bootstrap=p.kafka_bootstrap_servers, fault_of=fault_of, fault_at_s=SECONDS / 2)
            results[label] = _figures(raw, baseline)
        finally:
            drop_database(name)
    pg = PrivatePostgres()
    try:
        pg.start()
        url = pg.migrated_database(TICKETING_DIR, "reliability")
        raw = await _fault_run(workdir, "postgres_stop_20s", database_url=url, bootstrap=p.kafka_bootstrap_servers, fault_of=lambda t: stop_for(pg.stop, pg.start, POSTGRES_DOWN_S), fault_at_s=10.0)
        results["postgres_stop_20s"] = _figures(raw, baseline)
    finally:
        pg.destroy()
    (workdir / "kafka").mkdir(exist_ok=True)
    broker = KafkaBroker(workdir / "kafka")
    name, url = migrated_database(TICKETING_DIR, "bench_reliability")
    try:
        broker.start()
        raw = await _fault_run(workdir, "kafka_stop_30s", database_url=url, bootstrap=broker.bootstrap, fault_of=lambda t: stop_for(broker.stop, broker.start, BROKER_DOWN_S), fault_at_s=10.0)
        results["kafka_stop_30s"] = _figures(raw, baseline)
    finally:
        broker.stop()
        drop_database(name)
    results["not_measured_here"] = {
        "consumer_sigterm_with_broker_down": "tests/backbone::test_consumer_shutdown_with_broker_down_exits_within_10_seconds",
        "poison_message": "tests/backbone::test_poison_event_goes_to_dead_letter_topic_and_consumer_moves_on",
        "consumer_group_rebalance": "not measured yet",
    }
    return results


def run() -> dict[str, Any]:
    """Run every fault and write ``bench/results/reliability.json``."""
    figures = asyncio.run(_main())
    write_result("reliability", figures, rate_per_s=RATE, stream_s=SECONDS)
    return figures
