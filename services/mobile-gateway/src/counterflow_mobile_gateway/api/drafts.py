"""Hand-off drafts: diverted transactions waiting to be completed in the app."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.idempotency import run_idempotent
from counterflow_shared.web.problems import problem_responses
from counterflow_mobile_gateway.api.dependencies import CurrentCustomer, IdempotencyKey, Now, SessionDep
from counterflow_mobile_gateway.api.responses import Draft
from counterflow_mobile_gateway.api.schemas import DraftCompletion
from counterflow_mobile_gateway.domain import drafts

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])
_C = {"s401": "missing, invalid or expired access token", "s429": "over the customer's requests per window"}


@router.get("", response_model=list[Draft], responses=problem_responses(401, 429, **_C), summary="The customer's drafts, newest first")
async def list_drafts(customer: CurrentCustomer, session: SessionDep) -> list[dict]:
    """Drafts of the caller (amounts as decimal strings)."""
    return await drafts.list_drafts(session, customer_id=customer.customer_id)


@router.get("/{draft_id}", response_model=Draft, responses=problem_responses(401, 404, 429, s404="unknown, or someone else's", **_C), summary="One of the customer's drafts")
async def get_draft(draft_id: str, customer: CurrentCustomer, session: SessionDep) -> dict:
    """404 when unknown or someone else's."""
    return drafts.draft_view(await drafts.owned_draft(session, customer_id=customer.customer_id, draft_id=draft_id))


@router.post(
    "/{draft_id}/complete",
    response_model=Draft,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="``draft-completed`` or ``draft-expired``", **_C),
    summary="Complete a draft (closes the diversion)",
)
async def complete(draft_id: str, body: DraftCompletion, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """200 with the completed draft; publishes ``mobile.draft.completed``. 409
    ``draft-completed`` / ``draft-expired``; the same ``Idempotency-Key`` replays the
    first answer, also under concurrent retries."""

    async def compute() -> tuple[int, dict]:
        return 200, await drafts.complete(
            session, runtime, customer_id=customer.customer_id, draft_id=draft_id, amount=body.amount, currency=body.currency, payee=body.payee, now=now
        )

    scope = f"customer:{customer.customer_id}:drafts:{draft_id}:complete"
    return await run_idempotent(session, runtime.idempotency_keys, scope=scope, key=key, body=body.model_dump(mode="json"), compute=compute)
