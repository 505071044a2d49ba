"""The fleet of a branch (``/v1/branches/{branch_id}/devices``): every device with its
state, faults, cash units and cash-out forecast, and the branch's latest transactions;
and the same live over server-sent events (the fleet page)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.live import state_stream
from counterflow_shared.web.problems import problem_responses
from counterflow_shared.web.responses import event_stream
from counterflow_selfservice.api.dependencies import CtxDep, StaffDep
from counterflow_selfservice.api.schemas import DeviceView, TransactionOut
from counterflow_selfservice.api.views import device_view, transaction_out
from counterflow_selfservice.domain.context import Ctx, context_of
from counterflow_selfservice.domain.faults import faults
from counterflow_selfservice.domain.fleet import FleetFilter, fleet
from counterflow_selfservice.persistence import transactions as tx_repo

router = APIRouter(prefix="/v1/branches/{branch_id}", tags=["operations"])


class FleetDevice(DeviceView):
    """A device of the fleet page: its state plus ``faults`` (see :mod:`counterflow_selfservice.domain.faults`)."""

    faults: list[str]


class BranchFleet(BaseModel):
    """Device states of one branch and its latest ``transactions`` (newest first)."""

    branch_id: str
    at: datetime
    devices: list[FleetDevice]
    transactions: list[TransactionOut]


async def branch_fleet(ctx: Ctx, branch_id: str, transactions: int) -> BranchFleet:
    """The :class:`BranchFleet` of ``branch_id`` (retired devices left out)."""
    items, _ = await fleet(ctx, FleetFilter(branch_ids=[branch_id]), limit=1000)
    recent = await tx_repo.list_for_branch(ctx.session, branch_id, limit=transactions)
    refusals: dict[str, list[str]] = {}
    for r in recent:
        if not r.succeeded and r.refusal:
            refusals.setdefault(r.device_id, []).append(r.refusal)
    devices = [FleetDevice(**device_view(d, s).model_dump(), faults=faults(s, refusals.get(d.device_id, ()))) for d, s in items]
    return BranchFleet(branch_id=branch_id, at=ctx.now, devices=devices, transactions=[transaction_out(r) for r in recent])


@router.get("/devices", response_model=BranchFleet, responses=problem_responses(401, 403, s403="the token does not cover this branch"), summary="Device states of a branch: status, faults, cash units, cash-out forecast, latest transactions")
async def branch_devices(branch_id: str, ctx: CtxDep, staff: StaffDep, transactions: Annotated[int, Query(ge=0, le=500)] = 30) -> BranchFleet:
    """Staff whose token covers the branch (403 otherwise)."""
    staff.require_branch(branch_id)
    return await branch_fleet(ctx, branch_id, transactions)


@router.get(
    "/devices/stream",
    response_class=EventSourceResponse,
    responses={**event_stream("``fleet`` events, data: the BranchFleet JSON"), **problem_responses(401, 403, s403="the token does not cover this branch")},
    summary="The branch's devices live: server-sent events",
)
async def branch_devices_stream(branch_id: str, request: Request, staff: StaffDep, runtime: RuntimeDep) -> EventSourceResponse:
    """A ``fleet`` event (:class:`BranchFleet` JSON) at once and whenever it changes
    (re-read every ``fleet_refresh_s`` seconds)."""
    staff.require_branch(branch_id)

    async def read() -> Any:
        async with runtime.sessions() as session:
            return await branch_fleet(await context_of(runtime, session), branch_id, 30)

    return state_stream(request, event="fleet", read=read, model=BranchFleet, interval_s=runtime.settings.fleet_refresh_s, exclude={"at"})  # type: ignore[attr-defined]
