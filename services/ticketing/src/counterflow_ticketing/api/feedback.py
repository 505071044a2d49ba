"""Customer feedback after service at the kiosk (issue 17): ``POST
/v1/kiosk/tickets/{ticket_id}/feedback``. The app's feedback arrives through the mobile
gateway (``mobile.feedback.given``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from counterflow_shared.web.problems import not_found
from counterflow_ticketing.api.deps import CtxDep, KioskDep, TxDep
from counterflow_ticketing.domain import feedback
from counterflow_ticketing.persistence import tickets_repo

router = APIRouter(prefix="/v1/kiosk", tags=["kiosk"])


class FeedbackIn(BaseModel):
    """One score from 1 (poor) to 5 (excellent) and an optional comment."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=feedback.MIN_SCORE, le=feedback.MAX_SCORE)
    comment: str | None = Field(default=None, max_length=feedback.MAX_COMMENT)


@router.post("/tickets/{ticket_id}/feedback", status_code=201, summary="Feedback on a served ticket of the kiosk's branch")
async def give_feedback(ticket_id: str, body: FeedbackIn, kiosk: KioskDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """201 with the stored feedback; 404 for another branch's ticket; 409
    ``ticket-not-served`` / ``feedback-given``."""
    t = await tickets_repo.get_ticket(session, ticket_id)
    if t is None or t.branch_id != kiosk.branch_id:
        raise not_found("ticket", ticket_id)
    return await feedback.give(session, ctx, ticket=t, score=body.score, comment=body.comment, channel="kiosk")
