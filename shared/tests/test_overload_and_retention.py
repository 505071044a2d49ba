"""Overload refusal (503 + Retry-After at once) and the retention of backbone tables and
decision records (issue 15)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.retention import purge, rules_for
from counterflow_shared.rules.records import decision_table
from counterflow_shared.settings import ServiceSettings
from counterflow_shared.web.overload import InFlightLimit
from counterflow_shared.web.problems import install_problem_handlers


async def test_a_request_over_the_in_flight_bound_gets_503_with_retry_after_at_once() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    release = asyncio.Event()

    @app.post("/work")
    async def work() -> dict[str, bool]:
        await release.wait()
        return {"done": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(InFlightLimit, limit=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        busy = [asyncio.create_task(client.post("/work")) for _ in range(2)]
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(client.post("/work"), 1.0)  # answered without waiting for the others
        probe = await client.get("/healthz")
        release.set()
        done = await asyncio.gather(*busy)
        after = await client.post("/work")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.headers["content-type"] == "application/problem+json" and refused.json()["type"].endswith("/overloaded")
    assert probe.status_code == 200  # probes are never refused
    assert [r.status_code for r in done] == [200, 200] and after.status_code == 200


async def test_retention_purges_what_each_setting_no_longer_keeps(backbone_db) -> None:
    engine, _sessions, tables = backbone_db
    base = make_base()
    decisions = decision_table(base.metadata)
    async with engine.begin() as conn:
        await conn.run_sync(base.metadata.create_all)
    settings = ServiceSettings(outbox_sent_retention_s=3600, processed_events_retention_s=8 * 86400, idempotency_retention_s=86400, decision_retention_days=3653)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    outbox, processed, keys = tables["outbox"], tables["processed_events"], tables["idempotency_keys"]
    async with engine.begin() as conn:
        await conn.execute(
            outbox.insert(),
            [
                {"event_id": "sent-old", "topic": "t", "key": "k", "value": b"{}", "headers": {}, "created_at": ago(hours=3), "sent_at": ago(hours=2)},
                {"event_id": "sent-new", "topic": "t", "key": "k", "value": b"{}", "headers": {}, "created_at": ago(hours=3), "sent_at": ago(minutes=10)},
                {"event_id": "unsent-old", "topic": "t", "key": "k", "value": b"{}", "headers": {}, "created_at": ago(days=30), "sent_at": None},
            ],
        )
        await conn.execute(
            processed.insert(),
            [
                {"consumer_group": "g", "event_id": "e-9d", "topic": "t", "partition": 0, "offset": 1, "processed_at": ago(days=9)},
                {"consumer_group": "g", "event_id": "e-7d", "topic": "t", "partition": 0, "offset": 2, "processed_at": ago(days=7)},
            ],
        )
        await conn.execute(keys.insert(), [{"scope": "s", "key": "old", "request_hash": "h", "created_at": ago(hours=25)}, {"scope": "s", "key": "new", "request_hash": "h", "created_at": ago(hours=23)}])
        row = {"branch_id": "b", "service_type": "x", "kind": "ticket", "channel": "counter", "rule_set_version": 0, "rule_id": "default", "inputs": {}}
        await conn.execute(decisions.insert(), [{**row, "decision_id": "d-11y", "decided_at": ago(days=11 * 365)}, {**row, "decision_id": "d-9y", "decided_at": ago(days=9 * 365)}])
    deleted = await purge(engine, rules_for({**tables, "rule_decisions": decisions}, settings), now=now)
    assert deleted == {"outbox": 1, "processed_events": 1, "idempotency_keys": 1, "rule_decisions": 1}
    async with engine.connect() as conn:
        assert set((await conn.execute(select(outbox.c.event_id))).scalars()) == {"sent-new", "unsent-old"}  # never an unsent row
        assert set((await conn.execute(select(processed.c.event_id))).scalars()) == {"e-7d"}
        assert set((await conn.execute(select(keys.c.key))).scalars()) == {"new"}
        assert set((await conn.execute(select(decisions.c.decision_id))).scalars()) == {"d-9y"}
        assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == 2


def test_retention_settings_refuse_an_idempotency_window_under_24_hours() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="idempotency_retention_s"):
        ServiceSettings(idempotency_retention_s=3600)
    assert ServiceSettings().processed_events_retention_s > 7 * 86400  # longer than Kafka's default 7-day retention
