"""The shared metrics against real PostgreSQL: the metered pool counts waiting callers,
wait time and timeouts; the outbox sampler reads the backlog and its age."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from counterflow_shared.metrics.backbone import sample_outbox
from counterflow_shared.persistence.db import create_engine
from counterflow_testkit import create_database, drop_database


def _value(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_metered_pool_counts_waits_timeouts_and_connections(infrastructure) -> None:  # noqa: ANN001
    db = f"cf_test_metrics_{uuid.uuid4().hex[:8]}"
    url = create_database(db)
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    engine = create_engine(url, pool_size=1, max_overflow=1, pool_timeout_s=0.3, metrics_name=pool)
    try:
        waits_before = _value("db_client_connection_wait_time_seconds_count", db_client_connection_pool_name=pool)
        async with engine.connect() as a, engine.connect() as b:
            await a.execute(text("SELECT 1"))
            await b.execute(text("SELECT 1"))
            assert _value("db_client_connection_count", db_client_connection_pool_name=pool, db_client_connection_state="used") == 2
            assert _value("db_client_connection_max", db_client_connection_pool_name=pool) == 2

            async def third() -> None:
                async with engine.connect() as c:
                    await c.execute(text("SELECT 1"))

            waiting = asyncio.create_task(third())
            await asyncio.sleep(0.1)
            assert _value("db_client_connection_pending_requests", db_client_connection_pool_name=pool) == 1
            with pytest.raises(PoolTimeout):
                await waiting
        assert _value("db_client_connection_pending_requests", db_client_connection_pool_name=pool) == 0
        assert _value("db_client_connection_timeouts_total", db_client_connection_pool_name=pool) == 1
        assert _value("db_client_connection_wait_time_seconds_count", db_client_connection_pool_name=pool) == waits_before + 3
        # the timed-out caller waited the pool timeout
        assert _value("db_client_connection_wait_time_seconds_bucket", db_client_connection_pool_name=pool, le="0.1") <= waits_before + 2
        assert _value("db_client_connection_count", db_client_connection_pool_name=pool, db_client_connection_state="idle") >= 1
    finally:
        await engine.dispose()
        drop_database(db)


async def test_outbox_sampler_reports_pending_rows_and_the_oldest_age(backbone_db) -> None:  # noqa: ANN001
    engine, sessions, tables = backbone_db
    outbox = tables["outbox"]
    service = f"svc-{uuid.uuid4().hex[:6]}"
    runtime = SimpleNamespace(sessions=sessions, outbox=outbox, spec=SimpleNamespace(name=service))
    await sample_outbox(runtime)
    assert _value("counterflow_outbox_pending_rows", service=service) == 0
    assert _value("counterflow_outbox_oldest_pending_age_seconds", service=service) == 0
    now = datetime.now(UTC)
    rows = [
        {"event_id": "e1", "topic": "t", "key": "k", "value": b"1", "headers": {}, "created_at": now - timedelta(seconds=90), "sent_at": now},
        {"event_id": "e2", "topic": "t", "key": "k", "value": b"2", "headers": {}, "created_at": now - timedelta(seconds=30), "sent_at": None},
        {"event_id": "e3", "topic": "t", "key": "k", "value": b"3", "headers": {}, "created_at": now - timedelta(seconds=5), "sent_at": None},
    ]
    async with sessions() as session, session.begin():
        await session.execute(outbox.insert(), rows)
    await sample_outbox(runtime)
    assert _value("counterflow_outbox_pending_rows", service=service) == 2  # the sent row does not count
    age = _value("counterflow_outbox_oldest_pending_age_seconds", service=service)
    assert 30 <= age < 60, age
