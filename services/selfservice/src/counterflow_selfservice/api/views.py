"""Mapping of domain objects to response bodies."""

from __future__ import annotations

from dataclasses import asdict

from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_selfservice.api.schemas import AvailableDevice, DeviceView, TransactionOut
from counterflow_selfservice.domain.models import Device
from counterflow_selfservice.persistence.transactions import TransactionRecord


def device_view(device: Device, state: DeviceState) -> DeviceView:
    """The operations view of ``device`` with its current ``state``."""
    return DeviceView(
        **state.model_dump(),
        time_zone=device.time_zone,
        opening_hours=device.opening_hours,
        typical_withdrawal=device.typical_withdrawal,
        last_heartbeat_at=device.last_heartbeat_at,
    )


def available_device(state: DeviceState) -> AvailableDevice:
    """A device entry of the branch availability."""
    return AvailableDevice(**state.model_dump())


def transaction_out(record: TransactionRecord) -> TransactionOut:
    """The response body of a recorded transaction."""
    return TransactionOut(**asdict(record))
