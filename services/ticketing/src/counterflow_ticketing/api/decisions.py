"""Read channel decisions back (``/v1/decisions``, issue 17): by id, or by the ticket or
offer (diversion) the decision produced. Staff of the decision's branch (operations,
approver, analyst, lobby manager)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from counterflow_shared.constraints import Id
from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_shared.web.problems import invalid
from counterflow_ticketing.api.deps import TxDep
from counterflow_ticketing.domain.decisions import read_decision

router = APIRouter(prefix="/v1/decisions", tags=["channel decisions"])

DecisionReader = Annotated[StaffPrincipal, Depends(staff_dependency("operations", "approver", "analyst", "lobby_manager"))]


@router.get("/{decision_id}", summary="One decision: inputs, rule, vetoes, devices not offered")
async def by_id(decision_id: Id, staff: DecisionReader, session: TxDep) -> dict[str, Any]:
    """The decision record ``decision_id``; 404 problem when unknown."""
    return await read_decision(session, staff, decision_id=decision_id)


@router.get("", summary="The decision that produced a ticket or an offer")
async def by_outcome(
    staff: DecisionReader,
    session: TxDep,
    ticket_id: Id | None = Query(default=None, description="the ticket the decision issued"),
    diversion_id: Id | None = Query(default=None, description="the offer (diversion) the decision made"),
) -> dict[str, Any]:
    """Exactly one of ``ticket_id`` / ``diversion_id``; 422 naming ``query.ticket_id``
    otherwise, 404 when no decision produced it."""
    if (ticket_id is None) == (diversion_id is None):
        raise invalid("query.ticket_id", "give exactly one of ticket_id or diversion_id")
    return await read_decision(session, staff, ticket_id=ticket_id, diversion_id=diversion_id)
