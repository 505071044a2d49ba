"""Live profile updates through real Kafka: accept/decline streams move propensity the
right way and publish ``customer.score.updated`` only on material moves; channel use is
counted once per event even when an event is delivered twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import select

from counterflow_shared.events.security import client_options
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.payloads.devices import DeviceTransactionDone
from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionDeclined, DiversionStatus
from counterflow_shared.events.payloads.mobile import DraftCompleted
from counterflow_shared.events.payloads.tickets import TicketOrigin, TicketServed, TicketStatus
from counterflow_shared.persistence.db import create_engine, session_factory, session_scope
from counterflow_testkit import eventually
from counterflow_scoring.persistence import tables as t
from counterflow_scoring.settings import ScoringSettings

from .conftest import token


async def _send(settings: ScoringSettings, *envelopes: Envelope) -> None:
    from counterflow_shared.events.catalog import entry

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, **client_options(), acks="all")
    await producer.start()
    try:
        for env in envelopes:
            await producer.send_and_wait(settings.topic(entry(env.type).topic.name), env.to_bytes(), key=env.subject.encode(), headers=[("ce_type", env.type.encode())])
    finally:
        await producer.stop()


def _ev(payload: BaseModel) -> Envelope:
    return new_event(payload, source="/counterflow/test")


def _diversion(cls: type, customer_id: str, channel: str, status: DiversionStatus) -> BaseModel:
    return cls(
        diversion_id=f"dv-{uuid.uuid4().hex[:12]}",
        branch_id="D1",
        customer_id=customer_id,
        service_type="cash_withdrawal",
        channel=channel,
        rule_set_version=1,
        rule_id="r-test",
        status=status,
        occurred_at=datetime.now(UTC),
    )


async def _score(client: httpx.AsyncClient, settings: ScoringSettings, customer_id: str) -> dict:
    r = await client.get(f"/v1/customers/{customer_id}/score", headers=token(settings, "analyst", ["*"]))
    assert r.status_code == 200, r.text
    return r.json()


async def _published_for(settings: ScoringSettings, customer_id: str) -> list[dict]:
    """Every ``customer.score.updated`` of ``customer_id`` on the scores topic so far."""
    consumer = AIOKafkaConsumer(settings.topic("customer.scores.v1"), bootstrap_servers=settings.kafka_bootstrap_servers, **client_options(), group_id=None, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1500, max_records=5000)
            if not batch:
                break
            for records in batch.values():
                for rec in records:
                    if rec.key == customer_id.encode():
                        found.append(Envelope.from_bytes(rec.value).data)
    finally:
        await consumer.stop()
    return found


async def test_accept_stream_raises_and_decline_stream_lowers_propensity(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    before_a = await _score(book_app, book_settings, "C3")
    before_b = await _score(book_app, book_settings, "C4")
    published_before = len(await _published_for(book_settings, "C3"))

    await _send(book_settings, *[_ev(_diversion(DiversionAccepted, "C3", "atm", DiversionStatus.ACCEPTED)) for _ in range(6)])
    await _send(book_settings, *[_ev(_diversion(DiversionDeclined, "C4", "mobile", DiversionStatus.DECLINED)) for _ in range(6)])

    async def moved() -> bool:
        a = (await _score(book_app, book_settings, "C3"))["propensity"]
        b = (await _score(book_app, book_settings, "C4"))["propensity"]
        return a["self_service"] >= (6 + 4 * before_a["propensity"]["self_service"]) / 10 - 1e-3 and b["mobile"] <= 4 * before_b["propensity"]["mobile"] / 10 + 1e-3

    await eventually(moved, timeout_s=60, what="propensities after 6 answers each")
    after_a = await _score(book_app, book_settings, "C3")
    after_b = await _score(book_app, book_settings, "C4")
    assert after_a["propensity"]["self_service"] > before_a["propensity"]["self_service"]
    assert after_a["propensity"]["mobile"] == before_a["propensity"]["mobile"]  # other channels untouched
    assert after_b["propensity"]["mobile"] < before_b["propensity"]["mobile"]
    assert after_a["tier"] == before_a["tier"]

    # each accepted answer moved self-service by more than 0.05 at first, less later:
    # events went out only for material moves, never one per answer beyond that
    async def published() -> list[dict]:
        events = await _published_for(book_settings, "C3")
        return events if len(events) > published_before else []

    events = await eventually(published, timeout_s=30, what="customer.score.updated for C3")
    new = events[published_before:]
    assert 1 <= len(new) <= 6
    assert new[-1]["propensity"]["self_service"] == after_a["propensity"]["self_service"] or abs(new[-1]["propensity"]["self_service"] - after_a["propensity"]["self_service"]) < book_settings.material_propensity_move
    steps = [e["propensity"]["self_service"] for e in [events[published_before - 1], *new]] if published_before else [e["propensity"]["self_service"] for e in new]
    assert all(b - a >= book_settings.material_propensity_move - 1e-9 for a, b in zip(steps, steps[1:]))


async def test_channel_use_is_counted_once_per_event(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings, book_database: tuple[str, str]) -> None:
    now = datetime.now(UTC)
    served = _ev(
        TicketServed(
            ticket_id=f"tk-{uuid.uuid4().hex[:8]}", branch_id="D1", number="A001", service_type="cash_withdrawal", status=TicketStatus.SERVED,
            origin=TicketOrigin.WALK_IN, customer_id="C5", business_date=now.date(), issued_at=now, occurred_at=now,
        )
    )
    refused = _ev(DeviceTransactionDone(transaction_id="tx-1", device_id="atm-1", branch_id="D1", kind="withdrawal", service_type="cash_withdrawal", customer_id="C5", succeeded=False, occurred_at=now))
    done = _ev(DeviceTransactionDone(transaction_id="tx-2", device_id="atm-1", branch_id="D1", kind="withdrawal", service_type="cash_withdrawal", customer_id="C5", occurred_at=now))
    newcomer = _ev(DeviceTransactionDone(transaction_id="tx-3", device_id="atm-1", branch_id="D1", kind="withdrawal", service_type="cash_withdrawal", customer_id="X-new-1", occurred_at=now))
    draft = _ev(DraftCompleted(draft_id=f"dr-{uuid.uuid4().hex[:8]}", customer_id="C5", service_type="transfer", completed_at=now))
    await _send(book_settings, served, served, refused, done, newcomer, draft)  # ``served`` delivered twice

    engine = create_engine(book_database[1])
    try:
        async def usage() -> dict | None:
            async with session_scope(session_factory(engine)) as session:
                rows = (await session.execute(select(t.channel_usage.c.customer_id, t.channel_usage.c.channel, t.channel_usage.c.uses).where(t.channel_usage.c.customer_id.in_(["C5", "X-new-1"])))).all()
            found = {(c, ch): n for c, ch, n in rows}
            return found if len(found) == 4 else None

        found = await eventually(usage, timeout_s=60, what="channel use of C5 and a new customer")
        assert found == {("C5", "counter"): 1, ("C5", "self_service"): 1, ("C5", "mobile"): 1, ("X-new-1", "self_service"): 1}
        async with session_scope(session_factory(engine)) as session:
            assert (await session.execute(select(t.customers.c.customer_id).where(t.customers.c.customer_id == "X-new-1"))).scalar_one() == "X-new-1"
    finally:
        await engine.dispose()


async def test_a_new_customer_is_scored_and_published_on_first_sight(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    """A customer the book does not know gets a score, percentile, tier and propensity
    from the first event (no rescore), published once on ``customer.scores.v1``; the
    next whole-book rescore puts the customer in the same tier and publishes nothing
    more for it."""
    newcomer = f"N-{uuid.uuid4().hex[:10]}"
    await _send(book_settings, _ev(DraftCompleted(draft_id=f"dr-{uuid.uuid4().hex[:8]}", customer_id=newcomer, service_type="transfer", completed_at=datetime.now(UTC))))

    async def scored() -> dict | None:
        r = await book_app.get(f"/v1/customers/{newcomer}/score", headers=token(book_settings, "analyst", ["*"]))
        return r.json() if r.status_code == 200 else None

    first = await eventually(scored, timeout_s=60, what="a score for a customer first seen in events")
    assert first["score"] == 0.0 and first["home_branch_id"] is None
    assert 0.0 < first["percentile"] < 100.0 and all(f["value"] is None and f["points"] == 0.0 for f in first["explanation"])
    assert set(first["propensity"]) == {"self_service", "mobile", "appointment"} and all(0.0 < p < 1.0 for p in first["propensity"].values())

    async def published() -> list[dict]:
        return await _published_for(book_settings, newcomer)

    events = await eventually(published, timeout_s=30, what="customer.score.updated of the newcomer")
    assert [(e["tier"], e["propensity"]) for e in events] == [(first["tier"], first["propensity"])]

    r = await book_app.post("/v1/operations/rescore", headers=token(book_settings, "operations", ["*"]))
    assert r.status_code == 200, r.text
    assert (await _score(book_app, book_settings, newcomer))["tier"] == first["tier"]
    assert len(await _published_for(book_settings, newcomer)) == 1
