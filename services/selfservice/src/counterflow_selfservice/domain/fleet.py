"""Fleet views for operations and lobby: device states with filters, and per branch
which service types self-service can take now, at which device."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_selfservice.domain.context import Ctx
from counterflow_selfservice.domain.models import Device
from counterflow_selfservice.domain.state import build_state
from counterflow_selfservice.persistence import devices as device_repo


@dataclass
class FleetFilter:
    """Filters of the fleet view (``None`` = any). ``branch_ids`` ``None`` = all
    branches (head-office roles)."""

    branch_ids: Sequence[str] | None = None
    kind: str | None = None
    zone: str | None = None
    status: str | None = None
    service_type: str | None = None
    include_retired: bool = False


async def fleet(ctx: Ctx, flt: FleetFilter, *, limit: int = 200, after: str | None = None) -> tuple[list[tuple[Device, DeviceState]], str | None]:
    """Devices matching ``flt`` with their current state, ordered by id.

    ``status`` and ``service_type`` (available now) are filtered on the computed state,
    so a page may hold fewer than ``limit`` items; ``next_after`` continues the scan.

    Returns:
        ``(items, next_after)``; ``next_after`` is ``None`` on the last page.
    """
    devices = await device_repo.list_devices(
        ctx.session, branch_ids=flt.branch_ids, kind=flt.kind, zone=flt.zone, include_retired=flt.include_retired or flt.status == "retired", limit=limit, after=after
    )
    items = []
    for device in devices:
        state = build_state(device, ctx)
        if flt.status and state.status != flt.status:
            continue
        if flt.service_type and flt.service_type not in state.available_service_types:
            continue
        items.append((device, state))
    next_after = devices[-1].device_id if len(devices) == limit else None
    return items, next_after


async def branch_availability(ctx: Ctx, branch_id: str) -> dict[str, list[DeviceState]]:
    """Service type -> states of the branch's devices able to take it now, shortest
    expected wait first (then most cash, then id)."""
    devices = await device_repo.list_devices(ctx.session, branch_ids=[branch_id], limit=10_000)
    by_type: dict[str, list[DeviceState]] = {}
    for device in devices:
        state = build_state(device, ctx)
        for service_type in state.available_service_types:
            by_type.setdefault(service_type, []).append(state)
    for states in by_type.values():
        states.sort(key=lambda s: (s.expected_wait_s, -sum(s.cash_available.values()), s.device_id))
    return dict(sorted(by_type.items()))
