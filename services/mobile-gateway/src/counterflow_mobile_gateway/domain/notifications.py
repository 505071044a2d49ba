"""Notifications: one row in the customer's feed, one ``mobile.notification.issued``
event for a push provider (same transaction, through the outbox), one live
:class:`~counterflow_mobile_gateway.events.fanout.Push` sent after the commit and, when
a webhook is configured, one queued signed webhook delivery for SMS / e-mail gateways
(:mod:`.webhooks`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.mobile import NotificationIssued
from counterflow_mobile_gateway.domain import webhooks
from counterflow_mobile_gateway.events.fanout import Push
from counterflow_mobile_gateway.persistence import notifications as repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


class NotificationKind(StrEnum):
    """What a notification tells the customer."""

    TURN_SOON = "turn_soon"
    CALLED = "called"
    TIME_TO_LEAVE = "time_to_leave"
    APPOINTMENT_REMINDER = "appointment_reminder"
    DRAFT_WAITING = "draft_waiting"
    REMOTE_TICKET_REJECTED = "remote_ticket_rejected"


def notification_view(row: Any) -> dict[str, Any]:
    """JSON-ready form of a notification row (API and stream)."""
    return {
        "notification_id": row["notification_id"],
        "kind": row["kind"],
        "title": row["title"],
        "body": row["body"],
        "data": row["data"],
        "created_at": row["created_at"].isoformat(),
    }


async def issue(
    session: AsyncSession,
    runtime: "ServiceRuntime",
    *,
    customer_id: str,
    kind: NotificationKind,
    title: str,
    body: str,
    data: dict[str, str],
    now: datetime,
) -> Push:
    """Record a notification and its push event; returns the live message to send after commit."""
    row = {
        "notification_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "kind": str(kind),
        "title": title,
        "body": body,
        "data": data,
        "created_at": now,
    }
    await repo.add_notification(session, **row)
    await webhooks.enqueue(session, runtime, notification_id=row["notification_id"], kind=row["kind"], now=now)
    await runtime.publish(
        session,
        NotificationIssued(notification_id=row["notification_id"], customer_id=customer_id, kind=str(kind), title=title, body=body, data=data, created_at=now),
        time=now,
    )
    return Push(customer_id, "notification", notification_view(row))
