"""Diversion hand-off drafts: created from ``channel.diversion.accepted`` (channel
mobile) on the real broker, Decimal amounts end to end, idempotent completion under
concurrent retries, expiry."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionStatus
from counterflow_testkit import eventually


def accepted(customer_id: str | None, *, amount: str | None, channel: str = "mobile", expires_in_s: float = 3600, currency: str | None = "CZK") -> DiversionAccepted:
    now = datetime.now(UTC)
    return DiversionAccepted(
        diversion_id=f"d-{uuid.uuid4().hex[:10]}",
        branch_id="b-hand-off",
        customer_id=customer_id,
        service_type="transfer",
        channel=channel,
        amount=Decimal(amount) if amount is not None else None,
        currency=currency if amount is not None else None,
        payee="CZ65 0800 0000 1920 0014 5399",
        rule_set_version=3,
        rule_id="transfer-to-app",
        status=DiversionStatus.ACCEPTED,
        occurred_at=now,
        expires_at=now + timedelta(seconds=expires_in_s),
    )


async def draft_for(client, customer, diversion_id: str) -> dict:
    async def found():
        drafts = (await client.get("/v1/drafts", headers=customer.headers)).json()
        return next((d for d in drafts if d["diversion_id"] == diversion_id), None)

    return await eventually(found, what=f"draft of diversion {diversion_id}")


@pytest.mark.parametrize("amount", ["1234567890123456.78", "0.01", "2000.00", "0.10"])
async def test_amounts_round_trip_exactly(client, producer, topic_prefix, activity, kit, amount):
    customer = await kit.new_customer(client)
    event = accepted(customer.customer_id, amount=amount)
    await kit.emit(producer, topic_prefix, event)
    draft = await draft_for(client, customer, event.diversion_id)
    assert draft["amount"] == amount and draft["currency"] == "CZK" and draft["status"] == "waiting"
    assert draft["payee"] == event.payee

    done = await client.post(f"/v1/drafts/{draft['draft_id']}/complete", json={}, headers=customer.headers)
    assert done.status_code == 200, done.text
    assert done.json()["amount"] == amount
    completed = await activity.wait_for(lambda e: e.type == "mobile.draft.completed.v1" and e.data["draft_id"] == draft["draft_id"], what="draft completed event")
    assert completed[0].data["amount"] == amount and completed[0].data["diversion_id"] == event.diversion_id
    assert Decimal(completed[0].data["amount"]) == Decimal(amount)


async def test_customer_amount_override_is_exact_and_floats_are_refused(client, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    event = accepted(customer.customer_id, amount="100.00")
    await kit.emit(producer, topic_prefix, event)
    draft = await draft_for(client, customer, event.diversion_id)
    url = f"/v1/drafts/{draft['draft_id']}/complete"
    # A JSON float: refused with a 422 that says why, nothing written.
    raw = b'{"amount": 1234567890123456.78, "currency": "EUR"}'
    r = await client.post(url, content=raw, headers={**customer.headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    error = r.json()["errors"][0]
    assert error["field"] == "body.amount" and "float" in error["message"]
    for bad, field in (({"amount": "12,50"}, "body.amount"), ({"amount": "-1"}, "body.amount"), ({"amount": "5", "currency": "czk"}, "body.currency")):
        r = await client.post(url, json=bad, headers=customer.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (bad, r.text)
    assert (await client.get(f"/v1/drafts/{draft['draft_id']}", headers=customer.headers)).json()["status"] == "waiting"
    r = await client.post(url, content=json.dumps({"amount": "1234567890123456.78", "currency": "EUR"}), headers={**customer.headers, "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["amount"] == "1234567890123456.78" and r.json()["currency"] == "EUR"


async def test_concurrent_retries_complete_once(client, app, producer, topic_prefix, activity, kit):
    customer = await kit.new_customer(client)
    event = accepted(customer.customer_id, amount="2500.00")
    await kit.emit(producer, topic_prefix, event)
    draft = await draft_for(client, customer, event.diversion_id)
    url = f"/v1/drafts/{draft['draft_id']}/complete"
    headers = {**customer.headers, "Idempotency-Key": f"retry-{uuid.uuid4()}"}

    answers = await asyncio.gather(*(client.post(url, json={"amount": "2500.00"}, headers=headers) for _ in range(8)))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1
    assert sum(1 for r in answers if r.headers.get("Idempotent-Replayed") == "true") == 7

    other_body = await client.post(url, json={"amount": "2600.00"}, headers=headers)
    assert other_body.status_code == 422 and other_body.json()["type"].endswith("/idempotency-key-reused")
    other_key = await client.post(url, json={"amount": "2500.00"}, headers={**customer.headers, "Idempotency-Key": "another"})
    assert other_key.status_code == 409 and other_key.json()["type"].endswith("/draft-completed")

    # One effect: exactly one completion event was written to the outbox (the source of
    # everything published), and it reached the broker.
    async with app.state.runtime.engine.connect() as conn:
        written = (await conn.execute(
            text("SELECT count(*) FROM outbox WHERE headers->>'ce_type' = 'mobile.draft.completed.v1' AND convert_from(value, 'UTF8') LIKE :pattern"),
            {"pattern": f"%{draft['draft_id']}%"},
        )).scalar_one()
    assert written == 1
    await activity.wait_for(lambda e: e.type == "mobile.draft.completed.v1" and e.data["draft_id"] == draft["draft_id"], what="completion event")


async def test_concurrent_completions_without_key_one_wins(client, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    event = accepted(customer.customer_id, amount="10")
    await kit.emit(producer, topic_prefix, event)
    draft = await draft_for(client, customer, event.diversion_id)
    answers = await asyncio.gather(*(client.post(f"/v1/drafts/{draft['draft_id']}/complete", json={}, headers=customer.headers) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]


async def test_other_channels_and_anonymous_diversions_make_no_draft(client, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    await kit.emit(producer, topic_prefix, accepted(customer.customer_id, amount="5", channel="atm"))
    marker = accepted(customer.customer_id, amount="6")
    await kit.emit(producer, topic_prefix, accepted(None, amount="7"))
    await kit.emit(producer, topic_prefix, marker)
    await draft_for(client, customer, marker.diversion_id)
    drafts = (await client.get("/v1/drafts", headers=customer.headers)).json()
    assert [d["diversion_id"] for d in drafts] == [marker.diversion_id]


async def test_drafts_expire(client, producer, topic_prefix, activity, kit):
    customer = await kit.new_customer(client)
    event = accepted(customer.customer_id, amount="50", expires_in_s=1.0)
    await kit.emit(producer, topic_prefix, event)
    draft = await draft_for(client, customer, event.diversion_id)
    expired = await activity.wait_for(lambda e: e.type == "mobile.draft.expired.v1" and e.data["draft_id"] == draft["draft_id"], what="draft expired event")
    assert expired[0].data["diversion_id"] == event.diversion_id
    assert (await client.get(f"/v1/drafts/{draft['draft_id']}", headers=customer.headers)).json()["status"] == "expired"
    r = await client.post(f"/v1/drafts/{draft['draft_id']}/complete", json={}, headers=customer.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/draft-expired")
    feed = (await client.get("/v1/notifications", headers=customer.headers)).json()["items"]
    assert feed[0]["kind"] == "draft_waiting" and feed[0]["data"]["draft"] == draft["draft_id"]
