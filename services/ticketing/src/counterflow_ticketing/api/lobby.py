"""Lobby manager API (``/v1/branches/{branch_id}``): the queue overview with positions,
estimates and priority reasons, counter states, the lobby console's state and its live
stream; issue a ticket at the door (concierge), transfer, cancel, divert or raise the
priority of a waiting ticket; and the calling display's server-sent events stream."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

from counterflow_shared.web.live import state_stream
from counterflow_shared.web.problems import Problem, invalid, not_found, problem_responses
from counterflow_shared.web.responses import event_stream
from counterflow_ticketing.api.deps import BranchStaffDep, CtxDep, IdempotencyKey, LobbyDep, RuntimeDep, TxDep, get_ctx, idempotent
from counterflow_ticketing.api.lobby_schemas import CounterStates, LobbyState, PriorityIn, QueueAndCounters, QueueOverview
from counterflow_ticketing.api.responses import Diverted, ServiceRequestResult, TicketIssued, TicketResult, TicketView
from counterflow_ticketing.api.schemas import ServiceRequestIn, TransferIn
from counterflow_ticketing.domain import intake, lobby, queue
from counterflow_ticketing.domain.context import readmodels_of
from counterflow_ticketing.persistence import tickets_repo

router = APIRouter(prefix="/v1/branches/{branch_id}", tags=["lobby"])
_STAFF = {"s401": "missing or invalid staff token", "s403": "the token's role or branches do not cover this branch"}


@router.get(
    "/tickets/{ticket_id}",
    response_model=TicketView,
    responses=problem_responses(401, 403, 404, s404="no such ticket at this branch", **_STAFF),
    summary="A ticket with position and estimated wait",
)
async def get_ticket(branch_id: str, ticket_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """404 for a ticket of another branch."""
    staff.require_branch(branch_id)
    t = await tickets_repo.get_ticket(session, ticket_id)
    if t is None or t.branch_id != branch_id:
        raise not_found("ticket", ticket_id)
    return await queue.ticket_view(session, ctx, t)


@router.post("/tickets/{ticket_id}/transfer", response_model=TicketResult, responses=problem_responses(401, 403, 404, 409, s404="no such ticket at this branch", s409="the ticket is not in a state that allows this (``ticket-not-waiting``, ``ticket-not-cancellable``)", **_STAFF), summary="Move a waiting ticket to another queue")
async def transfer(branch_id: str, ticket_id: str, body: TransferIn, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Back (default) or front of the target service type / counter queue."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await queue.transfer(session, ctx, ticket_id=ticket_id, branch_id=branch_id, service_type=body.service_type, to_counter_id=body.counter_id, front=body.position == "front")}

    return await idempotent(session, scope=f"staff:{staff.subject}:transfer:{ticket_id}", key=idempotency_key, body=body.model_dump(), compute=compute)


@router.post("/tickets/{ticket_id}/cancel", response_model=TicketResult, responses=problem_responses(401, 403, 404, 409, s404="no such ticket at this branch", s409="the ticket is not in a state that allows this (``ticket-not-waiting``, ``ticket-not-cancellable``)", **_STAFF), summary="Cancel a ticket")
async def cancel(branch_id: str, ticket_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Waiting or called tickets only."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await queue.cancel(session, ctx, ticket_id=ticket_id, branch_id=branch_id)}

    return await idempotent(session, scope=f"staff:{staff.subject}:cancel:{ticket_id}", key=idempotency_key, body={}, compute=compute)


@router.post("/tickets/{ticket_id}/divert", response_model=TicketResult, responses=problem_responses(401, 403, 404, 409, s404="no such ticket at this branch", s409="the ticket is not in a state that allows this (``ticket-not-waiting``, ``ticket-not-cancellable``)", **_STAFF), summary="The customer took another channel")
async def divert(branch_id: str, ticket_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """waiting -> diverted (e.g. the lobby manager walked the customer to an ATM)."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await queue.divert(session, ctx, ticket_id=ticket_id, branch_id=branch_id)}

    return await idempotent(session, scope=f"staff:{staff.subject}:divert:{ticket_id}", key=idempotency_key, body={}, compute=compute)


#: A Redis stream id (``<milliseconds>-<sequence>``), the ``id`` of every display event.
STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


def display_call(fields: dict[str, str]) -> dict[str, Any]:
    """The ``data`` of a display ``call`` event from its Redis stream entry (all strings
    there): ``call_count`` an integer, ``recall`` a boolean, the rest as stored."""
    return {**fields, "call_count": int(fields["call_count"]), "recall": fields["recall"] == "true"}


@router.get(
    "/display/stream",
    response_class=EventSourceResponse,
    responses={**event_stream("``call`` events, data: JSON ticket_id, number, counter_id, counter_name, call_count (integer), recall (boolean), at; the event id is a stream id for Last-Event-ID"), **problem_responses(400, s400="``bad-last-event-id``: Last-Event-ID is not an id of this stream")},
    summary="Calling display: server-sent events of calls",
)
async def display_stream(
    branch_id: str,
    request: Request,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    backlog: Annotated[int, Query(ge=0, le=50, description="first replay this many of the latest calls (ignored with Last-Event-ID)")] = 0,
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
        if last_event_id:
            cursor = last_event_id
        elif backlog:
            cursor = await rm.display_before_last(branch_id, backlog)
        else:
            cursor = await rm.display_tail(branch_id)
        while not await request.is_disconnected():
            for stream_id, fields in await rm.read_display(branch_id, cursor, block_ms=1000):
                cursor = stream_id
                yield {"event": "call", "id": stream_id, "data": json.dumps(display_call(fields))}
            await asyncio.sleep(0)

    return EventSourceResponse(events(), ping=15)


@router.get("/queue", response_model=QueueOverview, responses=problem_responses(401, 403, **_STAFF), summary="Queue overview: every waiting ticket with position, estimate, priority and its reason")
async def queue_overview(branch_id: str, staff: BranchStaffDep, session: TxDep, ctx: CtxDep) -> Any:
    """Tellers, lobby managers and operations of the branch; 404 unknown branch."""
    staff.require_branch(branch_id)
    return await lobby.overview(session, ctx, branch_id)


@router.get("/counters", response_model=CounterStates, responses=problem_responses(401, 403, **_STAFF), summary="Counter states: open, paused, serving or closed, teller and ticket")
async def counter_states(branch_id: str, staff: BranchStaffDep, session: TxDep, ctx: CtxDep) -> Any:
    """Every active counter of the branch."""
    staff.require_branch(branch_id)
    return await lobby.counter_states(session, ctx, branch_id)


@router.get("/lobby", response_model=LobbyState, responses=problem_responses(401, 403, **_STAFF), summary="The lobby console: queues, counters, devices, offers, today's figures")
async def lobby_state(branch_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep) -> Any:
    """Lobby managers and operations of the branch."""
    staff.require_branch(branch_id)
    return await lobby.lobby_state(session, ctx, branch_id)


def _live(request: Request, runtime: Any, event: str, build: Callable[[Any, Any], Awaitable[Any]], model: type[BaseModel], exclude: Any) -> EventSourceResponse:
    """``event`` events of the state ``build(session, ctx)`` returns, re-read every
    ``lobby_refresh_s`` seconds (:func:`counterflow_shared.web.live.state_stream`)."""

    async def read() -> Any:
        async with runtime.sessions() as session:
            return await build(session, await get_ctx(runtime))

    return state_stream(request, event=event, read=read, model=model, interval_s=runtime.settings.lobby_refresh_s, exclude=exclude)


@router.get(
    "/lobby/stream",
    response_class=EventSourceResponse,
    responses={**event_stream("``lobby`` events, data: the LobbyState JSON"), **problem_responses(401, 403, **_STAFF)},
    summary="The lobby console live: server-sent events of its state",
)
async def lobby_stream(branch_id: str, request: Request, staff: LobbyDep, runtime: RuntimeDep) -> EventSourceResponse:
    """A ``lobby`` event (the :class:`LobbyState` JSON) at once and whenever it changes."""
    staff.require_branch(branch_id)
    return _live(request, runtime, "lobby", lambda session, ctx: lobby.lobby_state(session, ctx, branch_id), LobbyState, {"overview": {"at"}})


@router.get(
    "/queue/stream",
    response_class=EventSourceResponse,
    responses={**event_stream("``queue`` events, data: the QueueAndCounters JSON"), **problem_responses(401, 403, **_STAFF)},
    summary="Queue overview and counter states live: server-sent events",
)
async def queue_stream(branch_id: str, request: Request, staff: BranchStaffDep, runtime: RuntimeDep) -> EventSourceResponse:
    """A ``queue`` event (:class:`QueueAndCounters` JSON) at once and whenever it changes
    (the teller workstation's live view)."""
    staff.require_branch(branch_id)

    async def build(session: Any, ctx: Any) -> dict[str, Any]:
        return {"overview": await lobby.overview(session, ctx, branch_id), "counters": (await lobby.counter_states(session, ctx, branch_id))["counters"]}

    return _live(request, runtime, "queue", build, QueueAndCounters, {"overview": {"at"}})


@router.post("/tickets/{ticket_id}/priority", response_model=TicketResult, responses=problem_responses(401, 403, 404, 409, s404="no such ticket at this branch", s409="the ticket is not in a state that allows this (``ticket-not-waiting``, ``ticket-not-cancellable``)", **_STAFF), summary="Raise a waiting ticket's priority, with an audited reason")
async def raise_priority(branch_id: str, ticket_id: str, body: PriorityIn, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """422 naming ``body.priority`` when not above the current priority; 409 when not waiting."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, {"ticket": await lobby.raise_priority(session, ctx, staff=staff, branch_id=branch_id, ticket_id=ticket_id, to_priority=body.priority, reason=body.reason)}

    return await idempotent(session, scope=f"staff:{staff.subject}:priority:{ticket_id}", key=idempotency_key, body=body.model_dump(), compute=compute)


@router.post(
    "/service-requests",
    status_code=201,
    response_model=ServiceRequestResult,
    responses=problem_responses(401, 403, 404, 409, s404="the branch, or the appointment, does not exist", s409="the appointment is not due now, or already checked in", **_STAFF),
    summary="Concierge: request a service for a customer at the door",
)
async def concierge_request(branch_id: str, body: ServiceRequestIn, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """As the kiosk's request (the same rules decide: ticket or offer), made by the lobby
    manager for a customer, with needs flags."""
    staff.require_branch(branch_id)
    if (body.amount is None) != (body.currency is None) and body.amount is not None:
        raise invalid("body.currency", "required with amount")
    request = body.model_dump(mode="json", exclude_none=True)

    async def compute() -> tuple[int, Any]:
        return 201, await intake.request_service(session, ctx, branch_id=branch_id, kiosk_id=None, request=request)

    return await idempotent(session, scope=f"staff:{staff.subject}:service-requests:{branch_id}", key=idempotency_key, body=request, compute=compute)


@router.post("/offers/{diversion_id}/accept", response_model=Diverted, responses=problem_responses(401, 403, 404, 409, s404="no such offer at this branch", s409="``offer-decided``: already accepted, declined or expired", **_STAFF), summary="Concierge: the customer accepts the offered channel")
async def concierge_accept(branch_id: str, diversion_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """The visit is recorded as diverted; no ticket."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 200, await intake.accept_offer(session, ctx, diversion_id=diversion_id, branch_id=branch_id)

    return await idempotent(session, scope=f"staff:{staff.subject}:accept:{diversion_id}", key=idempotency_key, body={}, compute=compute)


@router.post(
    "/offers/{diversion_id}/decline",
    status_code=201,
    response_model=TicketIssued,
    responses=problem_responses(401, 403, 404, 409, s404="no such offer at this branch", s409="``offer-decided``: already accepted, declined or expired", **_STAFF),
    summary="Concierge: the customer declines the offer and takes a ticket",
)
async def concierge_decline(branch_id: str, diversion_id: str, staff: LobbyDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Returns ``{"kind": "ticket", "ticket": ...}``."""
    staff.require_branch(branch_id)

    async def compute() -> tuple[int, Any]:
        return 201, await intake.decline_offer(session, ctx, diversion_id=diversion_id, branch_id=branch_id)

    return await idempotent(session, scope=f"staff:{staff.subject}:decline:{diversion_id}", key=idempotency_key, body={}, compute=compute)
