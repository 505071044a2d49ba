"""Branch information for the app: branches, services, local opening hours, current
estimated waits, and free appointment slots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from counterflow_shared.constraints import BankDate
from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.problems import problem_responses
from counterflow_mobile_gateway.api.dependencies import CurrentCustomer, Now, SessionDep
from counterflow_mobile_gateway.api.responses import Branch, DaySlots
from counterflow_mobile_gateway.domain import appointments, branches

router = APIRouter(prefix="/v1/branches", tags=["branches"])
_C = {"s401": "missing, invalid or expired access token", "s429": "over the customer's requests per window"}


@router.get("", response_model=list[Branch], responses=problem_responses(401, 429, **_C), summary="Branches with services, local opening hours and current waits")
async def list_branches(customer: CurrentCustomer, session: SessionDep, now: Now) -> list[dict]:
    """Every known branch (from ``branch.directory.v1``) with waits from ``branch.load.v1``."""
    return await branches.list_branches(session, now=now)


@router.get("/{branch_id}", response_model=Branch, responses=problem_responses(401, 404, 429, s404="unknown branch", **_C), summary="One branch")
async def get_branch(branch_id: str, customer: CurrentCustomer, session: SessionDep, now: Now) -> dict:
    """One branch; 404 when unknown."""
    return await branches.get_branch(session, branch_id, now=now)


@router.get("/{branch_id}/slots", response_model=DaySlots, responses=problem_responses(401, 404, 429, s404="unknown branch", **_C), summary="Free appointment slots of one branch-local day")
async def slots(
    branch_id: str,
    customer: CurrentCustomer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: Now,
    service_type: Annotated[str, Query(min_length=1, max_length=64)],
    day: Annotated[BankDate, Query(alias="date", description="branch-local calendar date (YYYY-MM-DD)")],
) -> dict:
    """Free slots (UTC instants plus local start) of ``date`` for ``service_type``."""
    return await appointments.slots_for_day(session, runtime, branch_id=branch_id, service_type=service_type, day=day, now=now)
