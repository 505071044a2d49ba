"""Device endpoints (per-device credentials): heartbeat, transaction report,
replenishment. Bad device input is answered 422 naming the field, logged, and changes
nothing (the request's transaction is rolled back)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from counterflow_shared.web.problems import Problem, problem_response, problem_responses
from counterflow_selfservice.api.dependencies import CtxDep, DeviceIdDep
from counterflow_selfservice.api.schemas import HeartbeatAck, HeartbeatIn, ReplenishmentIn, TransactionIn, TransactionOut
from counterflow_selfservice.api.views import transaction_out
from counterflow_selfservice.domain import reports
from counterflow_selfservice.domain.availability import available_service_types

log = structlog.get_logger(__name__)


class LoggedDeviceRoute(APIRoute):
    """Logs every refused device request (validation errors, problems) with the path;
    the error itself is rendered by the shared problem handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler to log refusals before re-raising them."""
        handler = super().get_route_handler()

        async def logged(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                log.warning("device.bad_input", path=request.url.path, errors=[{"field": ".".join(map(str, e.get("loc", ()))), "message": e.get("msg")} for e in exc.errors()])
                raise
            except Problem as exc:
                log.warning("device.refused", path=request.url.path, status=exc.status, kind=exc.slug, detail=exc.detail)
                raise

        return logged


router = APIRouter(prefix="/v1/device", tags=["devices"], route_class=LoggedDeviceRoute)

_AUTH = {"s401": "missing, malformed or wrong device credentials, unknown or retired device"}


@router.post("/heartbeats", response_model=HeartbeatAck, responses=problem_responses(401, **_AUTH), summary="Heartbeat: status, clock, customers at the device, unit counts")
async def heartbeat(body: HeartbeatIn, device_id: DeviceIdDep, ctx: CtxDep) -> HeartbeatAck:
    """Heartbeat with status, queue and unit counts (send every 30 s; a device silent
    for ``heartbeat_timeout_s`` is marked offline)."""
    device = await reports.heartbeat(
        ctx, device_id, reports.Heartbeat(status=body.status, sent_at=body.sent_at, queue_length=body.queue_length, counts=[(u.unit_id, u.count) for u in body.cash_units])
    )
    return HeartbeatAck(device_id=device_id, status=device.status.value, available_service_types=available_service_types(device, ctx.now, ctx.settings.default_typical_withdrawal))


@router.post(
    "/transactions",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionOut,
    responses={
        200: {"model": TransactionOut, "description": "already reported: the first outcome"},
        **problem_responses(401, 409, s409="``insufficient-cash``: the units cannot pay (recorded as refused)", **_AUTH),
    },
    summary="Report a transaction (withdrawal, deposit, ...) at the device",
)
async def report_transaction(body: TransactionIn, device_id: DeviceIdDep, ctx: CtxDep, request: Request) -> Any:
    """Report a transaction. A withdrawal the cash units cannot pay is refused with 409
    ``insufficient-cash`` (the refusal is recorded and published; counts unchanged)."""
    outcome = await reports.record_transaction(
        ctx,
        device_id,
        reports.TransactionReport(
            transaction_id=body.transaction_id,
            kind=body.kind,
            amount=body.amount,
            currency=body.currency,
            notes=[(n.unit_id, n.count) for n in body.notes] if body.notes is not None else None,
            customer_id=body.customer_id,
            diversion_id=body.diversion_id,
            occurred_at=body.occurred_at,
        ),
    )
    record = outcome.record
    if not record.succeeded:
        # returned, not raised: the refusal itself is committed
        return problem_response(
            Problem(409, "insufficient-cash", "The cash units cannot pay this withdrawal", record.refusal or "", transaction_id=record.transaction_id),
            request,
        )
    code = status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED
    return JSONResponse(transaction_out(record).model_dump(mode="json"), status_code=code)


@router.post("/replenishments", response_model=HeartbeatAck, responses=problem_responses(401, **_AUTH), summary="Record a replenishment of cash units")
async def replenishment(body: ReplenishmentIn, device_id: DeviceIdDep, ctx: CtxDep) -> HeartbeatAck:
    """Record a replenishment: the listed units now hold the given counts."""
    device = await reports.replenish(ctx, device_id, [(u.unit_id, u.count) for u in body.cash_units], body.replenished_at)
    return HeartbeatAck(device_id=device_id, status=device.status.value, available_service_types=available_service_types(device, ctx.now, ctx.settings.default_typical_withdrawal))
