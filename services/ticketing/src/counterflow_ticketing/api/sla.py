"""SLA per branch and service type (issue 17): ``PUT``/``GET
/v1/branches/{branch_id}/sla-targets`` (operations writes, staff reads) and ``GET
/v1/branches/{branch_id}/sla``, the branch's SLA share, walk-outs and waits now (lobby
manager, operations, analyst)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_ticketing.api.deps import CtxDep, OperationsDep, StaffDep, TxDep
from counterflow_ticketing.domain import sla

router = APIRouter(prefix="/v1/branches/{branch_id}", tags=["sla"])

SlaReader = Annotated[StaffPrincipal, Depends(staff_dependency("lobby_manager", "operations", "analyst"))]


class SlaTargetIn(BaseModel):
    """One target: called within ``target_s`` seconds, measured over ``window_s`` seconds."""

    model_config = ConfigDict(extra="forbid")
    target_s: float = Field(gt=0, le=86_400, description="seconds from ticket to call")
    window_s: float | None = Field(default=None, ge=300, le=7 * 86_400, description="measurement window (seconds); default: the branch default's")


class SlaTargetsIn(BaseModel):
    """A branch's SLA targets: a branch ``default`` and per ``service_types``."""

    model_config = ConfigDict(extra="forbid")
    default: SlaTargetIn | None = None
    service_types: dict[Annotated[str, Field(min_length=1, max_length=64)], SlaTargetIn] = Field(default_factory=dict, max_length=200)


@router.put("/sla-targets", summary="Set the branch's SLA targets per service type")
async def put_targets(branch_id: str, body: SlaTargetsIn, staff: OperationsDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Replaces every target of the branch; 422 names a service type it does not offer."""
    staff.require_branch(branch_id)
    return await sla.set_targets(session, ctx, staff, branch_id, body.model_dump())


@router.get("/sla-targets", summary="The branch's SLA targets")
async def get_targets(branch_id: str, staff: StaffDep, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Targets set, else the service-wide setting as the default."""
    staff.require_branch(branch_id)
    return await sla.get_targets(session, ctx, branch_id)


@router.get("/sla", summary="SLA share, walk-outs and waits of the branch now")
async def get_sla(branch_id: str, staff: SlaReader, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Per service type and for the branch: called, within target, share, mean and p90
    wait, no-shows, cancelled, waiting and the longest current wait (seconds)."""
    staff.require_branch(branch_id)
    return await sla.read_branch_sla(session, ctx, branch_id)
