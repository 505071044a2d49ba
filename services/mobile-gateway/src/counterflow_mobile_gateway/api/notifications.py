"""Notifications: the feed (PostgreSQL) and the live stream (server-sent events, fed
through Redis pub/sub so that it works with several instances)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from counterflow_shared.web.problems import invalid, problem_responses
from counterflow_shared.web.responses import event_stream
from counterflow_mobile_gateway.api.dependencies import CurrentCustomer, SessionDep
from counterflow_mobile_gateway.api.responses import NotificationPage
from counterflow_mobile_gateway.domain.notifications import notification_view
from counterflow_mobile_gateway.events.fanout import fanout_of
from counterflow_mobile_gateway.persistence import notifications as repo

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
_C = {"s401": "missing, invalid or expired access token", "s429": "over the customer's requests per window"}


def _cursor(item: dict) -> str:
    return f"{item['created_at']}|{item['notification_id']}"


@router.get("", response_model=NotificationPage, responses=problem_responses(401, 429, **_C), summary="Notification feed, newest first (keyset pages)")
async def feed(customer: CurrentCustomer, session: SessionDep, limit: int = Query(50, ge=1, le=200), before: str | None = Query(None, max_length=128, description="next_before of the previous page")) -> dict:
    """``{"items": [...], "next_before": cursor or null}``."""
    cursor = None
    if before:
        try:
            at, nid = before.split("|", 1)
            cursor = (datetime.fromisoformat(at), nid)
        except ValueError as exc:
            raise invalid("query.before", "not a cursor returned by this endpoint") from exc
    items = [notification_view(r) for r in await repo.feed(session, customer_id=customer.customer_id, limit=limit, before=cursor)]
    return {"items": items, "next_before": _cursor(items[-1]) if len(items) == limit else None}


@router.get("/stream", response_class=EventSourceResponse, responses={**event_stream("``ready``, then ``notification``, ``ticket``, ``appointment`` and ``draft`` events (data: the JSON the REST endpoints return); ``token_expired`` ends it"), **problem_responses(401, 429, **_C)}, summary="Live stream (text/event-stream): notifications and ticket, appointment and draft updates")
async def stream(request: Request, customer: CurrentCustomer) -> EventSourceResponse:
    """Server-sent events. The first event is ``ready`` (the subscription is active);
    then ``notification``, ``ticket``, ``appointment`` and ``draft`` events whose data is
    the JSON of the same objects the REST endpoints return. Comment pings every
    ``sse_keepalive_s`` seconds keep proxies from closing the connection. When the access
    token expires the stream sends ``token_expired`` and ends; reconnect with a new token."""
    runtime = request.app.state.runtime
    hub = fanout_of(runtime)
    queue = hub.connect(customer.customer_id)

    async def events():
        try:
            yield {"event": "ready", "data": json.dumps({"customer_id": customer.customer_id})}
            while True:
                left = (customer.expires_at - datetime.now(UTC)).total_seconds() if customer.expires_at else None
                try:
                    msg = await asyncio.wait_for(queue.get(), left) if left is None or left > 0 else None
                except TimeoutError:
                    msg = None
                if msg is None:
                    # The token this stream was opened with expired: the client reconnects
                    # with a fresh one (so a revoked customer stops receiving).
                    yield {"event": "token_expired", "data": "{}"}
                    return
                yield {"event": msg["event"], "data": json.dumps(msg["data"], separators=(",", ":"))}
        finally:
            hub.disconnect(customer.customer_id, queue)

    return EventSourceResponse(events(), ping=int(request.app.state.settings.sse_keepalive_s), headers={"Cache-Control": "no-store"})
