"""What is wrong with a device, in words operations act on: its status when it is not
serving, cassettes that are low or empty, and refused transactions among the recent ones."""

from __future__ import annotations

from collections.abc import Iterable

from counterflow_shared.events.payloads.devices import DeviceState

#: statuses that stop a device from serving customers (XFS4IoT-style common status)
FAULT_STATUSES = frozenset({"offline", "hardware_error", "out_of_service", "maintenance"})


def faults(state: DeviceState, refusals: Iterable[str] = ()) -> list[str]:
    """Fault labels of a device: ``status:<status>``, ``cash_unit:<unit_id>:<low|empty>``,
    ``refused:<reason>`` (each refusal reason once, in first-seen order)."""
    out = [f"status:{state.status}"] if state.status in FAULT_STATUSES else []
    out += [f"cash_unit:{u.unit_id}:{u.status}" for u in state.cash_units if u.status in ("low", "empty")]
    seen: list[str] = []
    for r in refusals:
        if r and r not in seen:
            seen.append(r)
    return out + [f"refused:{r}" for r in seen]
