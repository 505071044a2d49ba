"""Notifications to SMS and e-mail gateways through a signed webhook (issue 17).

The notification port: every notification goes to the app (feed + live stream, as
before, :mod:`.notifications`) and, when a webhook is configured
(``CF_MOBILE_WEBHOOK_URL`` and ``CF_MOBILE_WEBHOOK_SECRET``) and its kind is in
``webhook_kinds``, to that URL: any provider's SMS or e-mail gateway (or the bank's own
adapter) receives the same JSON, so there is no provider lock-in.

Delivery:

* **Nothing lost.** A ``webhook_deliveries`` row is written in the notification's own
  transaction; the delivery loop (:func:`deliver_due`, every worker instance, rows
  claimed ``FOR UPDATE SKIP LOCKED``) sends it after the commit.
* **Signed.** ``X-Counterflow-Signature: sha256=<hex>`` is HMAC-SHA256 (RFC 2104) with
  the shared secret over ``<timestamp>.<body>``, ``X-Counterflow-Timestamp`` the Unix
  time of the attempt in seconds: the receiver recomputes it and refuses stale
  timestamps (replays), the scheme Stripe and GitHub webhooks use.
* **Retried with backoff.** A network error, timeout, 408, 429 or 5xx is retried after
  ``webhook_backoff_s * 2^(attempt-1)`` seconds (capped at ``webhook_backoff_max_s``;
  a longer ``Retry-After`` wins), up to ``webhook_max_attempts``; then ``failed``.
  Another 4xx is a refusal: ``failed`` at once (the receiver will not change its mind).
* **Idempotent.** Every attempt carries ``Idempotency-Key: <notification_id>`` (the
  IETF httpapi Idempotency-Key header), so a receiver that got an attempt whose answer
  was lost drops the retry; one row per notification, so we never send a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.persistence.db import session_scope
from counterflow_mobile_gateway.persistence.tables import notifications, webhook_deliveries

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Counterflow-Signature"
TIMESTAMP_HEADER = "X-Counterflow-Timestamp"
#: HTTP statuses worth another attempt (the others of 4xx are refusals).
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, given: str, *, now: float, tolerance_s: float = 300.0) -> bool:
    """What a receiver checks: the signature matches (constant-time) and the timestamp
    is within ``tolerance_s`` seconds of ``now`` (Unix seconds)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return abs(now - ts) <= tolerance_s and hmac.compare_digest(signature(secret, ts, body), given)


def payload(row: Any) -> dict[str, Any]:
    """The JSON a receiver gets for one notification row: the app's view of it plus the
    ``customer_id`` (the receiver resolves it to a phone number or address)."""
    from counterflow_mobile_gateway.domain.notifications import notification_view  # it imports this module

    return {**notification_view(row), "customer_id": row["customer_id"]}


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: ``delivered``; else ``retry`` (worth another attempt, after
    at least ``retry_after_s`` seconds when the receiver said so) and the ``error``."""

    delivered: bool
    retry: bool = False
    retry_after_s: float | None = None
    error: str | None = None


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return None


async def send_once(client: httpx.AsyncClient, url: str, secret: str, document: dict[str, Any], *, timeout_s: float) -> Outcome:
    """One signed POST of ``document`` to ``url``; never raises for HTTP or network
    failures (they come back as an :class:`Outcome`)."""
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    now = time.time()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": document["notification_id"],
        TIMESTAMP_HEADER: str(int(now)),
        SIGNATURE_HEADER: signature(secret, int(now), body),
    }
    try:
        r = await client.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= r.status_code < 300:
        return Outcome(True)
    return Outcome(False, retry=r.status_code in RETRYABLE, retry_after_s=_retry_after(r.headers.get("Retry-After"), now), error=f"HTTP {r.status_code}: {r.text[:300]}")


def backoff_s(attempt: int, *, base_s: float, max_s: float) -> float:
    """Seconds before attempt ``attempt + 1`` after ``attempt`` failed (1-based):
    ``base_s * 2^(attempt-1)``, at most ``max_s``."""
    return min(max_s, base_s * 2 ** (attempt - 1))


async def enqueue(session: AsyncSession, runtime: "ServiceRuntime", *, notification_id: str, kind: str, now: datetime) -> bool:
    """Queue the webhook delivery of a notification in the caller's transaction when a
    webhook is configured and ``kind`` is one it takes; returns whether it did."""
    s = runtime.settings
    if not (s.webhook_url and s.webhook_secret) or kind not in s.webhook_kinds:
        return False
    # due at once by the wall clock the delivery loop reads (``now`` may be simulated)
    await session.execute(insert(webhook_deliveries).values(notification_id=notification_id, status="pending", attempts=0, next_attempt_at=datetime.now(UTC), created_at=now))
    return True


async def deliver_due(runtime: "ServiceRuntime", client: httpx.AsyncClient, *, now: datetime, limit: int = 20) -> int:
    """Send the deliveries due at ``now`` (one transaction; rows locked ``SKIP LOCKED`` so
    instances share the work); returns how many were delivered. Each row is sent, then
    marked ``delivered``, rescheduled with backoff, or ``failed``."""
    s = runtime.settings
    delivered = 0
    async with session_scope(runtime.sessions) as session:
        stmt = (
            select(webhook_deliveries.c.notification_id, webhook_deliveries.c.attempts, *[c for c in notifications.c if c.name != "notification_id"])
            .join(notifications, notifications.c.notification_id == webhook_deliveries.c.notification_id)
            .where(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now)
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(of=webhook_deliveries, skip_locked=True)
        )
        for row in (await session.execute(stmt)).mappings().all():
            outcome = await send_once(client, s.webhook_url, s.webhook_secret, payload(row), timeout_s=s.webhook_timeout_s)
            attempts = row["attempts"] + 1
            values: dict[str, Any] = {"attempts": attempts, "last_error": outcome.error}
            if outcome.delivered:
                values.update(status="delivered", delivered_at=now)
                delivered += 1
            elif outcome.retry and attempts < s.webhook_max_attempts:
                wait = max(backoff_s(attempts, base_s=s.webhook_backoff_s, max_s=s.webhook_backoff_max_s), outcome.retry_after_s or 0.0)
                values.update(next_attempt_at=now + timedelta(seconds=wait))
            else:
                values.update(status="failed")
                log.warning("webhook.failed", notification_id=row["notification_id"], attempts=attempts, error=outcome.error)
            await session.execute(update(webhook_deliveries).where(webhook_deliveries.c.notification_id == row["notification_id"]).values(**values))
    return delivered


async def webhook_sender(runtime: "ServiceRuntime") -> None:
    """Background loop: :func:`deliver_due` every ``webhook_poll_s`` seconds while a
    webhook is configured (does nothing otherwise). Uses wall-clock time: retries are
    about the receiver's real availability, not the simulated day."""
    s = runtime.settings
    if not (s.webhook_url and s.webhook_secret):
        return
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await deliver_due(runtime, client, now=datetime.now(UTC))
            except Exception:  # noqa: BLE001 - the loop must outlive a database blip
                log.exception("webhook.loop_failed")
            await asyncio.sleep(s.webhook_poll_s)
