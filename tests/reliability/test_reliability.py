"""The reliability suite, short form (issue 16): a steady stream of kiosk requests with
idempotent retries against a real ticketing process while one fault happens; afterwards
0 lost and 0 duplicated, counting tickets in the database against the requests that got
one and against the distinct issued events on Kafka, and the service recovered by itself.
``python -m bench reliability`` runs the same faults longer and records the figures
(answer times against the 1 s target included) in ``bench/results/reliability.json``.

Every fault of the issue's list runs here against ticketing: 1 (broker stopped), 2
(SIGKILL), 3 (a consumer process SIGTERMed with the broker down), 4 (poison records on
every consumed topic), 5 (Redis flushed), 6 (PostgreSQL stopped) and 7 (a second instance
joins the consumer group mid-stream, with app requests flowing as events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from counterflow_testkit import PrivatePostgres, drop_database, eventually, migrated_database, sample_value, scrape

from .harness import (
    Outcomes,
    Ticketing,
    consumer_sigterm_with_broker_down,
    poison_every_topic,
    poison_records,
    processed_event_ids,
    records_of,
    redis_flush,
    run_with_fault,
    second_instance_joins,
    sigkill_and_restart,
    stop_for,
)

TICKETING_DIR = Path(__import__("counterflow_ticketing").__file__).parent
RATE = 10.0  # requests per second
SECONDS = 8.0


@pytest.fixture
def shared_db(infrastructure) -> Iterator[str]:  # noqa: ANN001
    name, url = migrated_database(TICKETING_DIR, "reliability")
    yield url
    drop_database(name)


async def _running(t: Ticketing, *, start_timeout_s: float = 90.0) -> Ticketing:
    await t.create_topics()
    t.start(timeout_s=start_timeout_s)
    await t.set_up_branch()
    return t


def _holds(figures: dict) -> None:
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    assert figures["gave_up"] == 0 and figures["accepted"] == figures["requests"], figures
    assert figures["remote_tickets"] == figures["remote_requests"] and figures["tickets_in_db"] == figures["accepted"] + figures["remote_tickets"], figures
    assert figures["distinct_events_on_kafka"] == figures["tickets_in_db"], figures
    assert figures["recovery_s"] is not None, figures


def _served_after_fault(figures: dict) -> None:
    assert figures["first_ticket_after_fault_s"] is not None, figures  # recovered by itself, mid-stream


async def test_sigkill_of_the_ticketing_process_loses_and_duplicates_nothing(infrastructure, shared_db: str, tmp_path: Path) -> None:  # noqa: ANN001
    t = await _running(Ticketing(tmp_path, database_url=shared_db, bootstrap=infrastructure.kafka_bootstrap_servers))
    try:
        figures = await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=SECONDS / 2, fault=sigkill_and_restart(t))
    finally:
        t.stop()
    _holds(figures)
    _served_after_fault(figures)
    assert figures["refusals"].get("connection ConnectError", 0) > 0  # the kill did interrupt the stream


async def test_redis_flush_mid_stream_rebuilds_and_loses_no_ticket(infrastructure, shared_db: str, tmp_path: Path) -> None:  # noqa: ANN001
    t = await _running(Ticketing(tmp_path, database_url=shared_db, bootstrap=infrastructure.kafka_bootstrap_servers))
    try:
        figures = await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=SECONDS / 2, fault=redis_flush(t))
        log = "".join(p.read_text() for p in tmp_path.glob("ticketing-*.log"))
    finally:
        t.stop()
    _holds(figures)
    _served_after_fault(figures)
    assert "readmodel.lost" in log and "readmodel.rebuilt" in log
    # The only refusal is the honest one; answer times (timeouts included) are the
    # benchmark's figure, not a test's, on this shared machine.
    assert {k for k in figures["refusals"] if not k.startswith("connection")} <= {"503 read-model-rebuilding"}, figures


async def test_postgres_stopped_mid_stream_answers_503_and_recovers_by_itself(infrastructure, private_pg: PrivatePostgres, tmp_path: Path) -> None:  # noqa: ANN001
    url = private_pg.migrated_database(TICKETING_DIR, "reliability")
    t = await _running(Ticketing(tmp_path, database_url=url, bootstrap=infrastructure.kafka_bootstrap_servers))
    try:
        figures = await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=2.0, fault=stop_for(private_pg.stop, private_pg.start, 4.0))
        log = "".join(p.read_text() for p in tmp_path.glob("ticketing-*.log"))
    finally:
        t.stop()
    _holds(figures)
    _served_after_fault(figures)
    assert figures["refusals"].get("503 database-unavailable", 0) > 0, figures
    assert set(figures["refusals"]) <= {"503 database-unavailable"}, figures
    assert log.count('"database.outage"') == 1 and "Traceback" not in log


async def test_broker_stopped_mid_stream_delays_events_and_loses_none(private_kafka, shared_db: str, tmp_path: Path) -> None:  # noqa: ANN001
    t = await _running(Ticketing(tmp_path, database_url=shared_db, bootstrap=private_kafka.bootstrap))
    try:
        figures = await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=2.0, fault=stop_for(private_kafka.stop, private_kafka.start, 5.0))
    finally:
        t.stop()
    _holds(figures)
    # Issuing a ticket does not need the broker: no request is refused. (Answer times are
    # the benchmark's figure, not a test's: on this shared 2-core machine a request has
    # been seen waiting over 10 s while the private broker's JVM restarted.)
    assert not [k for k in figures["refusals"] if not k.startswith("connection")], figures


async def _log_says(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


@pytest.mark.timeout(600)  # a private broker's JVM start and restart have each taken a minute on the loaded test machine
async def test_consumer_sigterm_with_the_broker_down_exits_within_10_s_and_loses_nothing(private_kafka, shared_db: str, tmp_path: Path) -> None:  # noqa: ANN001
    t = await _running(Ticketing(tmp_path, database_url=shared_db, bootstrap=private_kafka.bootstrap), start_timeout_s=240)
    worker = t.worker()
    seen: dict = {}
    try:
        await eventually(lambda: _log_says(tmp_path / "worker.log", "consumer.started"), timeout_s=240, what="the worker consuming")
        figures = await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=2.0, fault=consumer_sigterm_with_broker_down(t, worker, private_kafka, seen), remote_rate=RATE / 2)
    finally:
        if worker.poll() is None:
            worker.kill()
        t.stop()
    assert seen["exit_code"] == 0 and seen["exit_s"] < 10.0, seen
    _holds(figures)
    assert figures["remote_requests"] > 0


async def test_poison_on_every_consumed_topic_goes_to_dead_letters_and_later_events_are_handled(infrastructure, shared_db: str, tmp_path: Path) -> None:  # noqa: ANN001
    t = await _running(Ticketing(tmp_path, database_url=shared_db, bootstrap=infrastructure.kafka_bootstrap_servers))
    records, goods = poison_records(t)
    out = Outcomes()
    try:
        figures = await run_with_fault(t, rate=RATE, seconds=SECONDS, fault_at_s=2.0, fault=poison_every_topic(t, records, goods, out), out=out)
        await eventually(lambda: _all_processed(t, {g.id for g in goods}), timeout_s=60, what="every good event after the poison")
        metrics = await asyncio.to_thread(scrape, t.url)
    finally:
        t.stop()
    _holds(figures)
    assert figures["remote_tickets"] == 1  # the good app request after the poison
    dead = await records_of(t.bootstrap, f"{t.prefix}dlq.ticketing")
    topics = len(goods)
    errors = sorted(dict(r.headers)["dlq_error"].decode().split(":")[0] for r in dead)
    assert errors == ["poison"] * topics + ["undecodable record"] * topics, errors
    assert {dict(r.headers)["dlq_original_topic"].decode() for r in dead} == {topic for topic, _, _ in records}
    assert sample_value(metrics, "counterflow_consumer_events_total", consumer_group="ticketing", outcome="skipped_unknown") == topics
    assert sample_value(metrics, "counterflow_consumer_events_total", consumer_group="ticketing", outcome="dead_lettered") == 2 * topics


async def _all_processed(t: Ticketing, ids: set[str]) -> bool:
    return ids <= await processed_event_ids(t.database_url)


async def test_a_second_instance_joining_the_consumer_group_mid_stream_duplicates_nothing(infrastructure, shared_db: str, tmp_path: Path) -> None:  # noqa: ANN001
    t = await _running(Ticketing(tmp_path, database_url=shared_db, bootstrap=infrastructure.kafka_bootstrap_servers))
    joined: dict = {}
    try:
        async with AsyncExitStack() as stack:
            figures = await run_with_fault(t, rate=RATE, seconds=SECONDS * 2, fault_at_s=SECONDS / 2, fault=second_instance_joins(t, stack, joined), remote_rate=RATE)
            (consumer,) = joined["runtime"].consumers
            handled_by_second = consumer.status.processed
    finally:
        t.stop()
    _holds(figures)
    assert figures["remote_requests"] >= RATE * SECONDS  # the consumers had work on both sides of the join
    assert handled_by_second > 0  # the join did move partitions to the second instance
