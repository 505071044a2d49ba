"""Remote tickets: join a queue from the app, follow it, cancel it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.idempotency import run_idempotent
from counterflow_shared.web.problems import problem_responses, invalid
from counterflow_mobile_gateway.api.dependencies import CurrentCustomer, IdempotencyKey, Now, SessionDep
from counterflow_mobile_gateway.api.responses import FollowedTicket, OfferMade, TicketRequested
from counterflow_mobile_gateway.api.schemas import RemoteTicketRequest
from counterflow_mobile_gateway.domain import channel, tickets

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
_C = {"s401": "missing, invalid or expired access token", "s429": "over the customer's requests per window"}


@router.post(
    "",
    status_code=202,
    response_model=TicketRequested,
    summary="Ask to join a branch queue: a pending remote ticket (202) or an offer of another channel (200)",
    responses={
        200: {"model": OfferMade, "description": "the channel rules offer another channel: accept or decline it under /v1/offers"},
        **problem_responses(401, 404, 409, 429, s404="unknown branch", s409="``remote-ticket-limit``: the customer already follows as many tickets as allowed", **_C),
    },
)
async def request_ticket(body: RemoteTicketRequest, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """The channel rules decide first (:mod:`counterflow_mobile_gateway.domain.channel`).
    202 ``{"kind": "ticket", <pending ticket>, "decision"}``: ticketing's answer arrives
    as an event and shows up in ``GET /v1/tickets/{id}`` and the stream. 200 ``{"kind":
    "offer", "offer", "decision"}``: no ticket yet; ``POST /v1/offers/{id}/accept`` or
    ``/decline`` (which requests the ticket). ``decision`` names the rule set version and
    rule. 409 ``remote-ticket-limit`` over the limit; 422 ``body.currency`` when an amount
    comes without it."""
    if body.amount is not None and body.currency is None:
        raise invalid("body.currency", "currency is required with amount")

    async def compute() -> tuple[int, dict]:
        return await channel.request_service(
            session,
            runtime,
            customer_id=customer.customer_id,
            branch_id=body.branch_id,
            service_type=body.service_type,
            travel_time_s=body.travel_time_s,
            amount=body.amount,
            currency=body.currency,
            needs=frozenset(body.needs),
            now=now,
        )

    return await run_idempotent(session, runtime.idempotency_keys, scope=f"customer:{customer.customer_id}:tickets", key=key, body=body.model_dump(mode="json"), compute=compute)


@router.get("", response_model=list[FollowedTicket], responses=problem_responses(401, 429, **_C), summary="The customer's tickets, newest first")
async def list_tickets(customer: CurrentCustomer, session: SessionDep) -> list[dict]:
    """Remote and appointment tickets of the caller."""
    return await tickets.list_tickets(session, customer_id=customer.customer_id)


@router.get("/{ticket_id}", response_model=FollowedTicket, responses=problem_responses(401, 404, 429, s404="unknown, or someone else's", **_C), summary="One of the customer's tickets")
async def get_ticket(ticket_id: str, customer: CurrentCustomer, session: SessionDep) -> dict:
    """404 when unknown or someone else's."""
    return tickets.ticket_view(await tickets.owned_ticket(session, customer_id=customer.customer_id, id=ticket_id))


class FeedbackIn(BaseModel):
    """One score from 1 (poor) to 5 (excellent) and an optional comment."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)


@router.post(
    "/{ticket_id}/feedback",
    status_code=202,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="``ticket-not-served``: before service", **_C),
    summary="Feedback on a served ticket",
)
async def give_feedback(ticket_id: str, body: FeedbackIn, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now) -> dict:
    """Publishes ``mobile.feedback.given`` for ticketing, which keeps the first feedback of
    each served ticket (202). 404 when unknown or someone else's; 409
    ``ticket-not-served`` before service."""
    return await tickets.give_feedback(session, runtime, customer_id=customer.customer_id, id=ticket_id, score=body.score, comment=body.comment, now=now)


@router.post(
    "/{ticket_id}/cancel",
    response_model=FollowedTicket,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="the ticket can no longer be cancelled", **_C),
    summary="Cancel a remote ticket",
)
async def cancel_ticket(ticket_id: str, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """Cancel; publishes ``mobile.remote_ticket.cancelled``. 409 when not cancellable."""

    async def compute() -> tuple[int, dict]:
        return 200, await tickets.cancel_ticket(session, runtime, customer_id=customer.customer_id, id=ticket_id, now=now)

    return await run_idempotent(session, runtime.idempotency_keys, scope=f"customer:{customer.customer_id}:tickets:{ticket_id}:cancel", key=key, body={}, compute=compute)
