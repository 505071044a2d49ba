"""Operations API (``/v1``): branches (time zone, opening hours, closed days, zones,
services), the service-type catalog, counters, kiosks, and a day's schedule in UTC.
Writes need role ``operations`` covering the branch; reads any staff role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from counterflow_shared.web.problems import problem_responses

from counterflow_shared.constraints import BankDate
from counterflow_ticketing.api.deps import CtxDep, OperationsDep, StaffDep, TxDep
from counterflow_ticketing.api.responses import BranchView, CounterView, KioskRegistered, ServiceTypeView
from counterflow_ticketing.api.schemas import BranchIn, CounterIn, KioskIn, ServiceTypeIn
from counterflow_ticketing.domain import branches
from counterflow_ticketing.persistence import branches_repo

router = APIRouter(prefix="/v1", tags=["operations"])

_AUTH = {"s401": "missing or invalid staff token", "s403": "the token's role or branches do not cover this"}


@router.put("/branches/{branch_id}", response_model=BranchView, responses=problem_responses(401, 403, **_AUTH), summary="Create or replace a branch")
async def put_branch(branch_id: str, body: BranchIn, staff: OperationsDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Publishes ``branch.profile.updated``. 422 names a bad time zone, interval or service."""
    staff.require_branch(branch_id)
    return await branches.put_branch(session, ctx, branch_id=branch_id, spec=body.model_dump())


@router.get("/branches", response_model=list[BranchView], responses=problem_responses(401, 403, **_AUTH), summary="Branches this staff member may see")
async def list_branches(staff: StaffDep, session: TxDep) -> list[dict[str, Any]]:
    """Every branch covered by the token."""
    return [await branches.branch_view(session, b.branch_id) for b in await branches_repo.list_branches(session) if staff.may_act_on(b.branch_id)]


@router.get("/branches/{branch_id}", response_model=BranchView, responses=problem_responses(401, 403, 404, s404="unknown branch", **_AUTH), summary="One branch with hours, zones, services, counters")
async def get_branch(branch_id: str, staff: StaffDep, session: TxDep) -> dict[str, Any]:
    """404 when unknown; 403 when the token does not cover it."""
    staff.require_branch(branch_id)
    return await branches.branch_view(session, branch_id)


@router.get("/branches/{branch_id}/schedule", summary="A local day's opening intervals and appointment slots in UTC")
async def schedule(branch_id: str, staff: StaffDep, session: TxDep, day: Annotated[BankDate, Query(alias="date")]) -> dict[str, Any]:
    """Local wall-clock hours converted through the branch's IANA zone (DST days included)."""
    staff.require_branch(branch_id)
    return await branches.day_schedule(session, branch_id, day)


@router.get("/service-types", response_model=list[ServiceTypeView], responses=problem_responses(401, 403, **_AUTH), summary="The service-type catalog")
async def list_service_types(staff: StaffDep, session: TxDep) -> list[dict[str, Any]]:
    """Code, name, ticket prefix, skill, cash handling, zone, default service time (s)."""
    return [dict(r._mapping) for r in await branches_repo.list_service_types(session)]


@router.put("/service-types/{code}", response_model=ServiceTypeView, responses=problem_responses(401, 403, **_AUTH), summary="Create or change a service type")
async def put_service_type(code: str, body: ServiceTypeIn, staff: OperationsDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Head-office operations only (token branches ``*``); republishes the profile of every branch."""
    staff.require_branch("*")
    await branches_repo.upsert_service_type(session, {"service_type": code, **body.model_dump()})
    for b in await branches_repo.list_branches(session):
        await branches.publish_profile(session, ctx, b.branch_id)
    return dict((await branches_repo.get_service_type(session, code))._mapping)


@router.put("/branches/{branch_id}/counters/{counter_id}", response_model=CounterView, responses=problem_responses(401, 403, 404, s404="unknown branch", **_AUTH), summary="Create or replace a counter")
async def put_counter(branch_id: str, counter_id: str, body: CounterIn, staff: OperationsDep, session: TxDep) -> dict[str, Any]:
    """A counter (service point) with its kind, zone and skills."""
    staff.require_branch(branch_id)
    return await branches.put_counter(session, branch_id=branch_id, counter_id=counter_id, spec=body.model_dump())


@router.put("/branches/{branch_id}/kiosks/{kiosk_id}", response_model=KioskRegistered, responses=problem_responses(401, 403, 404, s404="unknown branch", **_AUTH), summary="Register or re-key a kiosk")
async def put_kiosk(branch_id: str, kiosk_id: str, body: KioskIn, staff: OperationsDep, session: TxDep) -> dict[str, Any]:
    """The kiosk then authenticates with ``Bearer <kiosk_id>:<secret>``."""
    staff.require_branch(branch_id)
    return await branches.put_kiosk(session, branch_id=branch_id, kiosk_id=kiosk_id, secret=body.secret)
