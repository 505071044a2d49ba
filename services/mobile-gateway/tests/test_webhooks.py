"""Notifications to SMS / e-mail gateways through the signed webhook (issue 17), against
a real HTTP receiver and the gateway's real database and delivery loop: HMAC-SHA256
signature, the same Idempotency-Key on every attempt, retries with backoff after 503,
no retry after a refusal, ``failed`` after the last attempt, only configured kinds, and
nothing sent twice."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from counterflow_shared.persistence.db import session_scope
from counterflow_testkit import drop_database, eventually, migrated_database
from counterflow_mobile_gateway.domain import webhooks
from counterflow_mobile_gateway.domain.notifications import NotificationKind, issue
from counterflow_mobile_gateway.main import create_app
from counterflow_mobile_gateway.persistence.tables import webhook_deliveries

from .conftest import PACKAGE_DIR, make_settings, serve

SECRET = "webhook-secret-0123456789abcdef"


def receiver() -> tuple[FastAPI, list[dict]]:
    """An SMS/e-mail gateway stand-in: real HTTP; by the notification's title it fails
    twice then accepts (``flaky``), refuses (``refuse``) or is down (``down``)."""
    app, seen = FastAPI(), []

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = await request.body()
        doc = json.loads(body)
        seen.append({"headers": dict(request.headers), "body": body, "doc": doc})
        tries = sum(1 for s in seen if s["doc"]["notification_id"] == doc["notification_id"])
        if doc["title"] == "refuse":
            return Response(status_code=400, content="unknown customer")
        if doc["title"] == "down" or (doc["title"] == "flaky" and tries <= 2):
            return Response(status_code=503, headers={"Retry-After": "0"})
        return Response(status_code=204)

    return app, seen


async def test_signed_retried_idempotent_webhook_delivery(topic_prefix: str, redis_prefix: str) -> None:
    name, url = migrated_database(PACKAGE_DIR, "mobile_webhooks")
    hook_app, seen = receiver()
    try:
        async with serve(hook_app) as hook_client:
            settings = make_settings(
                url, topic_prefix, redis_prefix + "webhooks:",
                webhook_url=f"{hook_client.base_url}/hook", webhook_secret=SECRET, webhook_kinds=["turn_soon", "called"],
                webhook_max_attempts=3, webhook_backoff_s=0.05, webhook_poll_s=0.1,
            )
            gateway = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
            async with serve(gateway):
                runtime = gateway.state.runtime
                ids = {}
                async with session_scope(runtime.sessions) as session:
                    for title, kind in (("flaky", NotificationKind.TURN_SOON), ("refuse", NotificationKind.CALLED), ("down", NotificationKind.TURN_SOON), ("not-sent", NotificationKind.DRAFT_WAITING)):
                        push = await issue(session, runtime, customer_id="C-hook", kind=kind, title=title, body=f"{title} body", data={"ticket": "t-1"}, now=datetime.now(UTC))
                        ids[title] = push.data["notification_id"]

                async def rows() -> dict[str, dict] | None:
                    async with session_scope(runtime.sessions) as session:
                        found = {r.notification_id: dict(r._mapping) for r in (await session.execute(select(webhook_deliveries))).all()}
                    return found if found and all(r["status"] != "pending" for r in found.values()) else None

                done = await eventually(rows, timeout_s=30, what="every webhook delivery settled")
                assert ids["not-sent"] not in done  # a kind the webhook does not take
                assert (done[ids["flaky"]]["status"], done[ids["flaky"]]["attempts"]) == ("delivered", 3)
                assert (done[ids["refuse"]]["status"], done[ids["refuse"]]["attempts"]) == ("failed", 1)
                assert "HTTP 400" in done[ids["refuse"]]["last_error"]
                assert (done[ids["down"]]["status"], done[ids["down"]]["attempts"]) == ("failed", 3)

                flaky = [s for s in seen if s["doc"]["notification_id"] == ids["flaky"]]
                assert len(flaky) == 3 and {s["headers"]["idempotency-key"] for s in flaky} == {ids["flaky"]}
                for s in seen:
                    h = s["headers"]
                    assert webhooks.verify(SECRET, h["x-counterflow-timestamp"], s["body"], h["x-counterflow-signature"], now=time.time())
                    assert not webhooks.verify("another-secret", h["x-counterflow-timestamp"], s["body"], h["x-counterflow-signature"], now=time.time())
                assert flaky[0]["doc"] == {"notification_id": ids["flaky"], "customer_id": "C-hook", "kind": "turn_soon", "title": "flaky", "body": "flaky body", "data": {"ticket": "t-1"}, "created_at": flaky[0]["doc"]["created_at"]}
                tampered = flaky[0]["body"].replace(b"flaky body", b"other body")
                assert not webhooks.verify(SECRET, flaky[0]["headers"]["x-counterflow-timestamp"], tampered, flaky[0]["headers"]["x-counterflow-signature"], now=time.time())

                before = len(seen)
                async with httpx.AsyncClient() as client:
                    assert await webhooks.deliver_due(runtime, client, now=datetime.now(UTC)) == 0
                assert len(seen) == before  # nothing is sent twice
    finally:
        drop_database(name)


def test_backoff_doubles_up_to_its_cap_and_stale_signatures_fail() -> None:
    assert [webhooks.backoff_s(a, base_s=1.0, max_s=10.0) for a in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    body = b'{"a":1}'
    sig = webhooks.signature(SECRET, 1_000_000, body)
    assert webhooks.verify(SECRET, "1000000", body, sig, now=1_000_100)
    assert not webhooks.verify(SECRET, "1000000", body, sig, now=1_000_400)  # older than 300 s: a replay
    assert not webhooks.verify(SECRET, "x", body, sig, now=1_000_000)
