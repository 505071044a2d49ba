"""Kiosk API (``/v1/kiosk``): request a service (ticket or diversion offer), accept or
decline an offer, ticket status, cancel. Kiosks authenticate with per-device
credentials and act on their own branch only. Every POST honours ``Idempotency-Key``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from counterflow_shared.web.edge import body_limit
from counterflow_shared.web.problems import invalid, not_found, problem_responses
from counterflow_ticketing.api.deps import CtxDep, IdempotencyKey, KioskCredentialsDep, KioskDep, RuntimeDep, TxDep, enforce_rate_limit, idempotent, verify_kiosk
from counterflow_ticketing.api.responses import Diverted, ServiceRequestResult, TicketIssued, TicketView
from counterflow_ticketing.api.schemas import ServiceRequestIn
from counterflow_ticketing.domain import intake, kiosk_request, queue
from counterflow_ticketing.domain.context import ctx_for
from counterflow_ticketing.persistence import branches_repo, tickets_repo

router = APIRouter(prefix="/v1/kiosk", tags=["kiosk"])

_AUTH = {"s401": "missing kiosk credentials, unknown kiosk or wrong secret", "s403": "not kiosk credentials (a staff token)"}
_POST_ERRORS = {**_AUTH, "s429": "over the kiosk's requests per minute"}


@router.post(
    "/service-requests",
    status_code=201,
    response_model=ServiceRequestResult,
    responses=problem_responses(401, 403, 404, 409, 429, s404="the kiosk's branch, or the appointment, does not exist", s409="the appointment is not due now, or already checked in", **_POST_ERRORS),
    openapi_extra=body_limit(4 * 1024),
    summary="Request a service: a ticket or a diversion offer",
)
async def request_service(body: ServiceRequestIn, credentials: KioskCredentialsDep, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Returns ``{"kind": "ticket", "ticket": {number, position, estimated_wait_s, priority, ...}}``
    or ``{"kind": "offer", "offer": {diversion_id, channel, device_id, ...}}``.

    Without an appointment: one Redis and two PostgreSQL round trips
    (:mod:`counterflow_ticketing.domain.kiosk_request`); an appointment check-in takes the
    general transactional path."""
    if (body.amount is None) != (body.currency is None) and body.amount is not None:
        raise invalid("body.currency", "required with amount")
    request = body.model_dump(mode="json", exclude_none=True)
    if not request.get("appointment_id"):
        return await kiosk_request.request_service(runtime, credentials=credentials, request=request, idempotency_key=idempotency_key)
    async with runtime.sessions() as session, session.begin():
        kiosk = await verify_kiosk(runtime, await branches_repo.get_kiosk(session, credentials.kiosk_id), credentials)
        await enforce_rate_limit(runtime, kiosk.kiosk_id)
        ctx = await ctx_for(runtime)

        async def compute() -> tuple[int, Any]:
            return 201, await intake.request_service(session, ctx, branch_id=kiosk.branch_id, kiosk_id=kiosk.kiosk_id, request=request)

        return await idempotent(session, scope=f"kiosk:{kiosk.kiosk_id}:service-requests", key=idempotency_key, body=request, compute=compute)


@router.post(
    "/offers/{diversion_id}/accept",
    response_model=Diverted,
    responses=problem_responses(401, 403, 404, 409, 429, s404="no such offer at the kiosk's branch", s409="the offer was already accepted, declined or expired", **_POST_ERRORS),
    summary="The customer accepts the offered channel",
)
async def accept_offer(diversion_id: str, kiosk: KioskDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """The visit is recorded as diverted; no ticket."""

    async def compute() -> tuple[int, Any]:
        return 200, await intake.accept_offer(session, ctx, diversion_id=diversion_id, branch_id=kiosk.branch_id)

    return await idempotent(session, scope=f"kiosk:{kiosk.kiosk_id}:accept:{diversion_id}", key=idempotency_key, body={}, compute=compute)


@router.post(
    "/offers/{diversion_id}/decline",
    status_code=201,
    response_model=TicketIssued,
    responses=problem_responses(401, 403, 404, 409, 429, s404="no such offer at the kiosk's branch", s409="the offer was already accepted, declined or expired", **_POST_ERRORS),
    summary="The customer declines the offer and takes a ticket",
)
async def decline_offer(diversion_id: str, kiosk: KioskDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Returns ``{"kind": "ticket", "ticket": ...}``."""

    async def compute() -> tuple[int, Any]:
        return 201, await intake.decline_offer(session, ctx, diversion_id=diversion_id, branch_id=kiosk.branch_id)

    return await idempotent(session, scope=f"kiosk:{kiosk.kiosk_id}:decline:{diversion_id}", key=idempotency_key, body={}, compute=compute)


@router.get(
    "/tickets/{ticket_id}",
    response_model=TicketView,
    responses=problem_responses(401, 403, 404, s404="no such ticket at the kiosk's branch", **_AUTH),
    summary="Ticket status with position and estimated wait",
)
async def ticket_status(ticket_id: str, kiosk: KioskDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """A ticket of the kiosk's branch; ``estimated_wait_s`` is seconds or ``null`` (unknown)."""
    t = await tickets_repo.get_ticket(session, ticket_id)
    if t is None or t.branch_id != kiosk.branch_id:
        raise not_found("ticket", ticket_id)
    return await queue.ticket_view(session, ctx, t)


@router.post(
    "/tickets/{ticket_id}/cancel",
    response_model=TicketView,
    responses=problem_responses(401, 403, 404, 409, 429, s404="no such ticket at the kiosk's branch", s409="the ticket is already being served or finished", **_POST_ERRORS),
    summary="Cancel a ticket",
)
async def cancel_ticket(ticket_id: str, kiosk: KioskDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Cancel a waiting or called ticket of the kiosk's branch; its number is not reused."""

    async def compute() -> tuple[int, Any]:
        return 200, await queue.cancel(session, ctx, ticket_id=ticket_id, branch_id=kiosk.branch_id)

    return await idempotent(session, scope=f"kiosk:{kiosk.kiosk_id}:cancel:{ticket_id}", key=idempotency_key, body={}, compute=compute)
