"""Lobby manager API (``/v1/branches/{branch_id}``): the queue with positions and
estimates, transfer, cancel or divert a waiting ticket; and the calling display's
server-sent events stream."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sse_starlette.sse import EventSourceResponse

from counterflow_shared.web.problems import Problem
from counterflow_ticketing.api.deps import CtxDep, IdempotencyKey, LobbyDep, RuntimeDep, TxDep, idempotent
from counterflow_ticketing.api.schemas import TransferIn
from counterflow_ticketing.domain import queue
from counterflow_ticketing.domain.context import readmodels_of
from counterflow_ticketing.persistence import tickets_repo

router = APIRouter(prefix="/v1/branches/{branch_id}", tags=["lobby"])


@router.get("/tickets/{ticket_id}", summary="A ticket with position and estimated wait")
async def get_ticket(branch_id: str, ticket_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """404 for a ticket of another branch."""
    staff.require_branch(branch_id)
    t = await tickets_repo.get_ticket(session, ticket_id)
    if t is None or t.branch_id != branch_id:
        from counterflow_shared.web.problems import not_found

        raise not_found("ticket", ticket_id)
    return await queue.ticket_view(session, ctx, t)


@router.post("/tickets/{ticket_id}/transfer", summary="Move a waiting ticket to another queue")
async def transfer(branch_id: str, ticket_id: str, body: TransferIn, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Back (default) or front of the target service type / counter queue."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await queue.transfer(session, ctx, ticket_id=ticket_id, branch_id=branch_id, service_type=body.service_type, to_counter_id=body.counter_id, front=body.position == "front")}

    return await idempotent(session, scope=f"staff:{staff.subject}:transfer:{ticket_id}", key=idempotency_key, body=body.model_dump(), compute=compute)


@router.post("/tickets/{ticket_id}/cancel", summary="Cancel a ticket")
async def cancel(branch_id: str, ticket_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Waiting or called tickets only."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await queue.cancel(session, ctx, ticket_id=ticket_id, branch_id=branch_id)}

    return await idempotent(session, scope=f"staff:{staff.subject}:cancel:{ticket_id}", key=idempotency_key, body={}, compute=compute)


@router.post("/tickets/{ticket_id}/divert", summary="The customer took another channel")
async def divert(branch_id: str, ticket_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """waiting -> diverted (e.g. the lobby manager walked the customer to an ATM)."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await queue.divert(session, ctx, ticket_id=ticket_id, branch_id=branch_id)}

    return await idempotent(session, scope=f"staff:{staff.subject}:divert:{ticket_id}", key=idempotency_key, body={}, compute=compute)


#: A Redis stream id (``<milliseconds>-<sequence>``), the ``id`` of every display event.
STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


@router.get("/display/stream", summary="Calling display: server-sent events of calls")
async def display_stream(
    branch_id: str,
    request: Request,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """One ``call`` event per call or recall (``number``, ``counter_id``, ``counter_name``,
    ``call_count``, ``recall``, ``at``); the event id is the Redis stream id, so a display
    reconnecting with ``Last-Event-ID`` gets the calls it missed. Public: a calling display
    shows only ticket numbers and counters.

    Raises:
        Problem: 400 ``bad-last-event-id`` (field ``header.Last-Event-ID``) when the header
            is not a stream id (``<ms>-<seq>``) this endpoint gave out.
    """
    if last_event_id is not None and not STREAM_ID.fullmatch(last_event_id):
        raise Problem(
            400,
            "bad-last-event-id",
            "Last-Event-ID is not an event id of this stream",
            f"header.Last-Event-ID: {last_event_id[:64]!r} is not a stream id like 1733040000000-0",
            errors=[{"field": "header.Last-Event-ID", "message": "expected <milliseconds>-<sequence>"}],
        )
    rm = readmodels_of(runtime)

    async def events() -> AsyncIterator[dict[str, Any]]:
        cursor = last_event_id or await rm.display_tail(branch_id)
        while not await request.is_disconnected():
            for stream_id, fields in await rm.read_display(branch_id, cursor, block_ms=1000):
                cursor = stream_id
                yield {"event": "call", "id": stream_id, "data": json.dumps(fields)}
            await asyncio.sleep(0)

    return EventSourceResponse(events(), ping=15)
