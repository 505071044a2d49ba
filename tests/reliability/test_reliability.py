"""The reliability suite, short form (issue 16): a steady stream of kiosk requests with
idempotent retries against a real ticketing process while one fault happens; afterwards
0 lost and 0 duplicated, counting tickets in the database against the requests that got
one and against the distinct issued events on Kafka, and the service recovered by itself.
``python -m bench reliability`` runs the same faults longer and records the figures
(answer times against the 1 s target included) in ``bench/results/reliability.json``.

Faults 3 (consumer SIGTERM with the broker down) and 4 (poison records) are the backbone
suite's (``tests/backbone``); the figures here cover 1, 2, 5 and 6.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from counterflow_testkit import PrivatePostgres, drop_database, migrated_database

from .harness import Ticketing, redis_flush, run_with_fault, sigkill_and_restart, stop_for

TICKETING_DIR = Path(__import__("counterflow_ticketing").__file__).parent
RATE = 10.0  # requests per second
SECONDS = 8.0


@pytest.fixture
def shared_db(infrastructure) -> Iterator[str]:  # noqa: ANN001
    name, url = migrated_database(TICKETING_DIR, "reliability")
    yield url
    drop_database(name)


@pytest.fixture
def private_pg(infrastructure) -> Iterator[PrivatePostgres]:  # noqa: ANN001
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


async def _running(t: Ticketing) -> Ticketing:
    await t.create_topics()
    t.start()
    await t.set_up_branch()
    return t


def _holds(figures: dict) -> None:
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    assert figures["gave_up"] == 0 and figures["accepted"] == figures["requests"] == figures["tickets_in_db"], figures
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
