"""Business gauges of self-service devices, sampled from the service's database.

* ``counterflow_devices{branch, kind, status}``: devices by published status (``online``,
  ``busy``, ``hardware_error``, ``out_of_service``, ``maintenance``, ``offline``); retired
  devices are left out. "Faulted" is ``hardware_error`` or ``out_of_service``.
* ``counterflow_devices_cash_out_within_horizon{branch, kind}``: cash devices whose
  forecast (docs/cash-forecast.md) runs dry within ``cash_out_horizon_s`` (the rules'
  protection setting; its default, 1,800 s, from
  :class:`counterflow_shared.rules.protections.ProtectionSettings`): the rules stop
  offering them, and a cash-in-transit run is due.

Labels are branch ids and device kinds (configuration), never device ids.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import Gauge

from counterflow_shared.rules.protections import ProtectionSettings
from counterflow_selfservice.domain.state import cash_out_at
from counterflow_selfservice.persistence import devices as devices_repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

DEVICES = Gauge("counterflow_devices", "Self-service devices by branch, kind and published status (retired left out).", ["branch", "kind", "status"])
CASH_OUT_SOON = Gauge(
    "counterflow_devices_cash_out_within_horizon",
    "Cash devices whose forecast runs dry within the rules' cash-out horizon.",
    ["branch", "kind"],
)
HORIZON = Gauge("counterflow_devices_cash_out_horizon_seconds", "The cash-out horizon the forecast gauge uses (seconds).")

#: The horizon of the rules' protections (seconds).
CASH_OUT_HORIZON_S = ProtectionSettings().cash_out_horizon_s


async def sample_devices(runtime: ServiceRuntime) -> None:
    """Count every non-retired device by status and the cash devices forecast to run dry
    within :data:`CASH_OUT_HORIZON_S` (pages of 500 devices; one query for the units of
    each page)."""
    now = await runtime.clock.now()  # the domain clock (simulated in replays)
    horizon = now + timedelta(seconds=CASH_OUT_HORIZON_S)
    default_typical = runtime.settings.default_typical_withdrawal  # type: ignore[attr-defined]
    counts: dict[tuple[str, str, str], int] = {}
    soon: dict[tuple[str, str], int] = {}
    after: str | None = None
    async with runtime.sessions() as session:
        while True:
            page = await devices_repo.list_devices(session, limit=500, after=after)
            if not page:
                break
            for device in page:
                key = (device.branch_id, device.kind.value)
                counts[(*key, device.status.value)] = counts.get((*key, device.status.value), 0) + 1
                soon.setdefault(key, 0)
                dry = cash_out_at(device, now, default_typical)
                if dry is not None and dry <= horizon:
                    soon[key] += 1
            after = page[-1].device_id
    DEVICES.clear()
    for labels, value in counts.items():
        DEVICES.labels(*labels).set(value)
    CASH_OUT_SOON.clear()
    for labels, value in soon.items():
        CASH_OUT_SOON.labels(*labels).set(value)
    HORIZON.set(CASH_OUT_HORIZON_S)
