"""Operations endpoints (staff tokens): register, update, configure and retire devices,
rotate credentials, view the fleet and the branch availability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from counterflow_shared.constraints import BankDateTime, Id
from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import Problem, problem_responses
from counterflow_selfservice.api.dependencies import CtxDep, OperationsDep, StaffDep
from counterflow_selfservice.api.schemas import (
    BranchAvailability,
    CashUnitsConfig,
    DeviceList,
    DeviceRegistration,
    DeviceUpdate,
    DeviceView,
    RegisteredDevice,
    ReplenishmentOut,
    ServiceAvailability,
    TransactionOut,
)
from counterflow_selfservice.api.views import available_device, device_view, transaction_out
from counterflow_selfservice.domain import registry
from counterflow_selfservice.domain.fleet import FleetFilter, branch_availability, fleet
from counterflow_selfservice.domain.models import Device, DeviceKind, DeviceStatus, ReportedStatus
from counterflow_selfservice.domain.state import build_state
from counterflow_selfservice.persistence import transactions as tx_repo

#: every route takes a staff token covering the branch (``operations`` role to change devices)
router = APIRouter(prefix="/v1", tags=["operations"], responses=problem_responses(401, 403, s401="missing or invalid staff token", s403="the token's role or branches do not cover this"))
_UNKNOWN = problem_responses(404, s404="unknown device")
_RETIRED = problem_responses(404, 409, s404="unknown device", s409="``device-retired``: the device is retired")


def _view(device: Device, ctx: CtxDep) -> DeviceView:
    return device_view(device, build_state(device, ctx))


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=RegisteredDevice, responses=problem_responses(409, s409="``device-exists``: the id is taken (also by a retired device)"))
async def register_device(body: DeviceRegistration, ctx: CtxDep, staff: OperationsDep) -> RegisteredDevice:
    """Register a device; the answer holds its secret (shown once). The device is
    offline until its first heartbeat."""
    staff.require_branch(body.branch_id)
    device = Device(
        device_id=body.device_id,
        branch_id=body.branch_id,
        zone=body.zone,
        kind=body.kind,
        accessible=body.accessible,
        capabilities=body.capabilities.to_domain(),
        time_zone=body.time_zone,
        opening_hours=body.opening_hours,
        reported_status=ReportedStatus.ONLINE,
        offline=True,
        retired=False,
        last_heartbeat_at=None,
        queue_length=0,
        typical_withdrawal=body.typical_withdrawal,
        demand_model=None,
        cash_units=sorted((u.to_domain() for u in body.cash_units), key=lambda u: u.unit_id),
    )
    secret = await registry.register(ctx, device)
    return RegisteredDevice(device=_view(device, ctx), device_id=device.device_id, secret=secret)


async def _device_in_scope(ctx: CtxDep, staff: StaffPrincipal, device_id: str) -> Device:
    """The device, after checking that the staff token covers its branch (404, 403)."""
    device = await registry.get(ctx, device_id)
    staff.require_branch(device.branch_id)
    return device


@router.get("/devices", response_model=DeviceList)
async def list_fleet(
    ctx: CtxDep,
    staff: StaffDep,
    branch_id: Annotated[list[Id] | None, Query(description="one or more branches", max_length=100)] = None,
    kind: DeviceKind | None = None,
    zone: Annotated[str | None, Query(max_length=32)] = None,
    status_: Annotated[DeviceStatus | None, Query(alias="status")] = None,
    service_type: Annotated[str | None, Query(max_length=64, description="can take this service type now")] = None,
    include_retired: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[str | None, Query(max_length=64, description="continue after this device id")] = None,
) -> DeviceList:
    """Fleet status with filters; staff see the branches their token covers."""
    if branch_id:
        for b in branch_id:
            staff.require_branch(b)
        branches: list[str] | None = branch_id
    elif "*" in staff.branches:
        branches = None
    else:
        branches = list(staff.branches)
    items, next_after = await fleet(
        ctx,
        FleetFilter(branch_ids=branches, kind=kind.value if kind else None, zone=zone, status=status_.value if status_ else None, service_type=service_type, include_retired=include_retired),
        limit=limit,
        after=after,
    )
    return DeviceList(items=[device_view(d, s) for d, s in items], next_after=next_after)


@router.get("/devices/{device_id}", response_model=DeviceView, responses=_UNKNOWN)
async def get_device(device_id: str, ctx: CtxDep, staff: StaffDep) -> DeviceView:
    """One device with its current state."""
    return _view(await _device_in_scope(ctx, staff, device_id), ctx)


@router.patch("/devices/{device_id}", response_model=DeviceView, responses=_RETIRED)
async def update_device(device_id: str, body: DeviceUpdate, ctx: CtxDep, staff: OperationsDep) -> DeviceView:
    """Change zone, accessibility, capabilities, time zone, opening hours or the typical
    withdrawal of a device."""
    await _device_in_scope(ctx, staff, device_id)
    given = body.model_fields_set
    changes = registry.DeviceChanges(
        zone=body.zone,
        accessible=body.accessible,
        capabilities=body.capabilities.to_domain() if body.capabilities else None,
        time_zone=body.time_zone,
        opening_hours=body.opening_hours,
        set_opening_hours="opening_hours" in given,
        typical_withdrawal=body.typical_withdrawal,
        set_typical_withdrawal="typical_withdrawal" in given,
    )
    for name in ("zone", "accessible", "capabilities", "time_zone"):
        if name in given and getattr(body, name) is None:
            raise Problem(422, "validation-error", "Request is invalid", f"body.{name}: may not be null", errors=[{"field": f"body.{name}", "message": "may not be null"}])
    return _view(await registry.update(ctx, device_id, changes), ctx)


@router.put("/devices/{device_id}/cash-units", response_model=DeviceView, responses=_RETIRED)
async def configure_cash_units(device_id: str, body: CashUnitsConfig, ctx: CtxDep, staff: OperationsDep) -> DeviceView:
    """Replace the cash units of a device: denominations, capacity, low/full thresholds."""
    await _device_in_scope(ctx, staff, device_id)
    device = await registry.configure_units(ctx, device_id, [u.to_domain() for u in body.cash_units])
    return _view(device, ctx)


@router.post("/devices/{device_id}/credentials", response_model=RegisteredDevice, responses=_RETIRED)
async def rotate_credentials(device_id: str, ctx: CtxDep, staff: OperationsDep) -> RegisteredDevice:
    """Issue a new device secret; the old one stops working at once."""
    await _device_in_scope(ctx, staff, device_id)
    return RegisteredDevice(device_id=device_id, secret=await registry.rotate_secret(ctx, device_id))


@router.delete("/devices/{device_id}", response_model=DeviceView, responses=_RETIRED)
async def retire_device(device_id: str, ctx: CtxDep, staff: OperationsDep) -> DeviceView:
    """Retire a device: credentials revoked, state ``retired`` published."""
    await _device_in_scope(ctx, staff, device_id)
    return _view(await registry.retire(ctx, device_id), ctx)


@router.get("/devices/{device_id}/transactions", response_model=list[TransactionOut], responses=_UNKNOWN)
async def list_transactions(
    device_id: str,
    ctx: CtxDep,
    staff: StaffDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[BankDateTime | None, Query(description="only transactions that occurred before this time")] = None,
) -> list[TransactionOut]:
    """Transactions at the device (refused ones included), newest first."""
    await _device_in_scope(ctx, staff, device_id)
    return [transaction_out(r) for r in await tx_repo.list_for_device(ctx.session, device_id, limit=limit, before=before)]


@router.get("/devices/{device_id}/replenishments", response_model=list[ReplenishmentOut], responses=_UNKNOWN)
async def list_replenishments(device_id: str, ctx: CtxDep, staff: StaffDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ReplenishmentOut]:
    """Replenishments of the device's units, newest first."""
    await _device_in_scope(ctx, staff, device_id)
    return [ReplenishmentOut(**r) for r in await tx_repo.list_replenishments(ctx.session, device_id, limit=limit)]


@router.get("/branches/{branch_id}/availability", response_model=BranchAvailability)
async def get_branch_availability(branch_id: str, ctx: CtxDep, staff: StaffDep) -> BranchAvailability:
    """Which service types self-service in the branch can take now, at which device,
    with the expected wait and the forecast cash-out."""
    staff.require_branch(branch_id)
    by_type = await branch_availability(ctx, branch_id)
    return BranchAvailability(
        branch_id=branch_id,
        at=ctx.now,
        service_types=[ServiceAvailability(service_type=t, devices=[available_device(s) for s in states]) for t, states in by_type.items()],
    )
