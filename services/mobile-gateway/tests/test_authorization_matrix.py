"""Customer A can never read or change customer B's tickets, appointments, drafts or
notifications: every customer endpoint, tried by the other customer and by nobody."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionStatus
from counterflow_testkit import eventually
from counterflow_mobile_gateway.api.dependencies import utcnow

PINNED = datetime(2024, 10, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def owners(client, producer, topic_prefix, kit, app):
    """Customers A and B, each with a remote ticket, an appointment, a draft and a
    notification of their own."""
    a, b = await kit.new_customer(client), await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, a)
    app.dependency_overrides[utcnow] = lambda: PINNED
    try:
        owned = {}
        for who, hour in ((a, 8), (b, 9)):
            ticket = (await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}, headers=who.headers)).json()
            appointment = (await client.post("/v1/appointments", json={"branch_id": branch.branch_id, "service_type": "loan_consultation", "starts_at": f"2024-10-22T{hour:02d}:00:00Z"}, headers=who.headers)).json()
            diversion = DiversionAccepted(
                diversion_id=f"d-{uuid.uuid4().hex[:10]}", branch_id=branch.branch_id, customer_id=who.customer_id, service_type="transfer", channel="mobile",
                amount=Decimal("99.90"), currency="CZK", rule_set_version=1, rule_id="r1", status=DiversionStatus.ACCEPTED,
                occurred_at=datetime.now(UTC), expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
            await kit.emit(producer, topic_prefix, diversion)

            async def draft(who=who):
                return next(iter((await client.get("/v1/drafts", headers=who.headers)).json()), None)

            owned[who.customer_id] = {"ticket": ticket["id"], "appointment": appointment["appointment_id"], "draft": (await eventually(draft, what="draft"))["draft_id"]}
    finally:
        app.dependency_overrides.pop(utcnow, None)
    return a, b, branch, owned


READS = [
    ("GET", "/v1/tickets/{ticket}", None),
    ("GET", "/v1/appointments/{appointment}", None),
    ("GET", "/v1/drafts/{draft}", None),
]
WRITES = [
    ("POST", "/v1/tickets/{ticket}/cancel", None),
    ("POST", "/v1/appointments/{appointment}/reschedule", {"starts_at": "2024-10-22T10:00:00Z"}),
    ("POST", "/v1/appointments/{appointment}/cancel", None),
    ("POST", "/v1/drafts/{draft}/complete", {"amount": "1.00", "currency": "CZK"}),
]
LISTS = {"/v1/tickets": "id", "/v1/appointments": "appointment_id", "/v1/drafts": "draft_id"}


async def snapshot(client, who, ids) -> dict:
    return {
        "ticket": (await client.get(f"/v1/tickets/{ids['ticket']}", headers=who.headers)).json(),
        "appointment": (await client.get(f"/v1/appointments/{ids['appointment']}", headers=who.headers)).json(),
        "draft": (await client.get(f"/v1/drafts/{ids['draft']}", headers=who.headers)).json(),
    }


@pytest.mark.parametrize(("method", "template", "body"), READS + WRITES, ids=[f"{m} {t}" for m, t, _ in READS + WRITES])
async def test_the_other_customer_gets_404_and_changes_nothing(client, owners, app, method, template, body):
    a, b, _, owned = owners
    app.dependency_overrides[utcnow] = lambda: PINNED
    try:
        for intruder, victim in ((b, a), (a, b)):
            before = await snapshot(client, victim, owned[victim.customer_id])
            url = template.format(**owned[victim.customer_id])
            headers = {**intruder.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
            r = await client.request(method, url, json=body, headers=headers)
            assert r.status_code == 404, (method, url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert await snapshot(client, victim, owned[victim.customer_id]) == before
            assert (await client.request(method, url, json=body)).status_code == 401
    finally:
        app.dependency_overrides.pop(utcnow, None)


async def test_lists_and_feeds_hold_only_the_callers_items(client, owners):
    a, b, _, owned = owners
    for me, other in ((a, b), (b, a)):
        for path, key in LISTS.items():
            ids = {item[key] for item in (await client.get(path, headers=me.headers)).json()}
            assert ids and ids <= set(owned[me.customer_id].values()), (path, ids)
            assert not ids & set(owned[other.customer_id].values())
        feed = (await client.get("/v1/notifications", headers=me.headers)).json()["items"]
        assert feed and all(n["data"].get("draft") != owned[other.customer_id]["draft"] for n in feed)
        assert {n["data"]["draft"] for n in feed if "draft" in n["data"]} == {owned[me.customer_id]["draft"]}


async def test_an_idempotency_key_is_private_to_its_customer(client, owners):
    a, b, branch, _ = owners
    body = {"branch_id": branch.branch_id, "service_type": "cash_withdrawal"}
    key = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    ra = await client.post("/v1/tickets", json=body, headers={**a.headers, **key})
    rb = await client.post("/v1/tickets", json=body, headers={**b.headers, **key})
    assert ra.status_code == 202 and rb.status_code == 202
    assert ra.json()["id"] != rb.json()["id"] and "Idempotent-Replayed" not in rb.headers


async def test_streams_carry_only_the_callers_events(client, producer, topic_prefix, owners, kit):
    a, b, branch, _ = owners
    async with kit.SseClient(client, a.headers) as stream_a, kit.SseClient(client, b.headers) as stream_b:
        for who in (a, b):
            d = DiversionAccepted(
                diversion_id=f"d-{uuid.uuid4().hex[:10]}", branch_id=branch.branch_id, customer_id=who.customer_id, service_type="bill_payment", channel="mobile",
                rule_set_version=1, rule_id="r1", status=DiversionStatus.ACCEPTED, occurred_at=datetime.now(UTC),
            )
            await kit.emit(producer, topic_prefix, d)
        await stream_a.wait_for(lambda ev, d: ev == "draft" and d["service_type"] == "bill_payment", what="A's draft event")
        await stream_b.wait_for(lambda ev, d: ev == "draft" and d["service_type"] == "bill_payment", what="B's draft event")
        await asyncio.sleep(0.5)
    for stream, me in ((stream_a, a), (stream_b, b)):
        drafts = {d["draft_id"] for d in (await client.get("/v1/drafts", headers=me.headers)).json()}
        streamed = {d["draft_id"] for ev, d in stream.events if ev == "draft"}
        assert streamed and streamed <= drafts


async def test_every_customer_endpoint_requires_a_token(client, app):
    paths = app.openapi()["paths"]
    checked = 0
    for path, ops in paths.items():
        if not path.startswith("/v1/") or path.startswith("/v1/auth/"):
            continue
        for method in ops:
            url = path.replace("{", "").replace("}", "")
            r = await client.request(method.upper(), url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 14
