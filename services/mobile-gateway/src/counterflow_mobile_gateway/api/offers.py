"""Offers of another channel made by the channel rules when the customer asked to join a
queue: read, accept, decline."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.idempotency import run_idempotent
from counterflow_shared.web.problems import problem_responses
from counterflow_mobile_gateway.api.dependencies import CurrentCustomer, IdempotencyKey, Now, SessionDep
from counterflow_mobile_gateway.api.responses import Diverted, OfferView, TicketRequested
from counterflow_mobile_gateway.domain import offers

router = APIRouter(prefix="/v1/offers", tags=["offers"])
_C = {"s401": "missing, invalid or expired access token", "s429": "over the customer's requests per window"}


@router.get("/{diversion_id}", response_model=OfferView, responses=problem_responses(401, 404, 429, s404="unknown, or someone else's", **_C), summary="One of the customer's offers")
async def get_offer(diversion_id: str, customer: CurrentCustomer, session: SessionDep) -> dict:
    """404 when unknown or someone else's."""
    return await offers.get_offer(session, customer_id=customer.customer_id, diversion_id=diversion_id)


@router.post(
    "/{diversion_id}/accept",
    response_model=Diverted,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="``offer-decided``: already accepted, declined or expired", **_C),
    summary="Take the offered channel (no ticket)",
)
async def accept(diversion_id: str, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """200 ``{"kind": "diverted", "offer", "expires_at"}``; publishes
    ``channel.diversion.accepted`` (a ``mobile`` hand-off then appears under
    ``/v1/drafts``). 404 not the customer's; 409 ``offer-decided``."""

    async def compute() -> tuple[int, dict]:
        return 200, await offers.accept(session, runtime, customer_id=customer.customer_id, diversion_id=diversion_id, now=now)

    return await run_idempotent(session, runtime.idempotency_keys, scope=f"customer:{customer.customer_id}:offers:{diversion_id}:accept", key=key, body={}, compute=compute)


@router.post(
    "/{diversion_id}/decline",
    status_code=202,
    response_model=TicketRequested,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="``offer-decided`` or ``remote-ticket-limit``", **_C),
    summary="Decline the offer and join the queue after all",
)
async def decline(diversion_id: str, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """202 ``{"kind": "ticket", <pending ticket>, "offer"}``; publishes
    ``channel.diversion.declined`` and requests the remote ticket. 404; 409
    ``offer-decided`` / ``remote-ticket-limit``."""

    async def compute() -> tuple[int, dict]:
        return 202, await offers.decline(session, runtime, customer_id=customer.customer_id, diversion_id=diversion_id, now=now)

    return await run_idempotent(session, runtime.idempotency_keys, scope=f"customer:{customer.customer_id}:offers:{diversion_id}:decline", key=key, body={}, compute=compute)
