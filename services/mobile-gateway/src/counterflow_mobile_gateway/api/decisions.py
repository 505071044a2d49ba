"""Read the app's channel decisions back (issue 17): ``GET /v1/decisions/{id}`` and
``GET /v1/decisions?request_id=`` (the remote ticket asked for) or ``?diversion_id=``
(the offer made in the app), with their inputs, the rule, every veto and its reason and
the devices not offered, like ticketing's decisions of kiosk requests. Staff of the
decision's branch (operations, approver, analyst, lobby manager)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from counterflow_shared.constraints import Id
from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_shared.web.problems import invalid
from counterflow_mobile_gateway.api.dependencies import SessionDep
from counterflow_mobile_gateway.domain.decisions import read_decision

router = APIRouter(prefix="/v1/decisions", tags=["channel decisions"])

DecisionReader = Annotated[StaffPrincipal, Depends(staff_dependency("operations", "approver", "analyst", "lobby_manager"))]


@router.get("/{decision_id}", summary="One app decision: inputs, rule, vetoes, devices not offered")
async def by_id(decision_id: Id, staff: DecisionReader, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The decision record ``decision_id``; 404 problem when unknown."""
    return await read_decision(session, runtime, staff, decision_id=decision_id)


@router.get("", summary="The app decision behind a remote ticket request or an offer")
async def by_outcome(
    staff: DecisionReader,
    session: SessionDep,
    runtime: RuntimeDep,
    request_id: Id | None = Query(default=None, description="the remote ticket request (the app's ticket id) the decision made"),
    diversion_id: Id | None = Query(default=None, description="the offer (diversion) the decision made"),
) -> dict[str, Any]:
    """Exactly one of ``request_id`` / ``diversion_id``; 422 naming ``query.request_id``
    otherwise, 404 when no decision produced it."""
    if (request_id is None) == (diversion_id is None):
        raise invalid("query.request_id", "give exactly one of request_id or diversion_id")
    return await read_decision(session, runtime, staff, ticket_id=request_id, diversion_id=diversion_id)
