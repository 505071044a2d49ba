"""``selfservice.devices.v1`` (compacted, key ``device_id``) and
``selfservice.transactions.v1`` (key ``device_id``)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from counterflow_shared.events.payloads.common import Id, Payload
from counterflow_shared.money import Amount


class CashUnitState(BaseModel):
    """One cassette: ``count`` notes of ``denomination`` (major units of ``currency``);
    ``status`` is the replenishment status ok / low / empty / full."""

    unit_id: str
    currency: str
    denomination: Amount
    count: int
    status: str


class DeviceCapabilities(BaseModel):
    """What a device can do: service types, per-transaction limits (major units per
    currency), denominations it dispenses and currencies it handles."""

    service_types: list[str]
    max_amount: dict[str, Amount] = {}
    denominations: list[Amount] = []
    currencies: list[str] = []


class DeviceState(Payload):
    """Everything the other services need about a device, sent on every material change.

    Attributes:
        status: XFS4IoT-style common status: online, offline, hardware_error,
            out_of_service, maintenance, busy, retired.
        available_service_types: service types it can take right now.
        unavailable_service_types: why each other service type it is capable of cannot be
            taken now (``status``, ``closed``, ``cash``, ``notes``, ``full``; issue 17).
        cash_available: total dispensable cash per currency (major units).
        forecast_cash_out_at: when it is expected to be unable to serve a typical
            withdrawal (``None`` when not a cash device or no forecast).
        queue_length / expected_wait_s: customers at or waiting for the device; seconds.
    """

    device_id: Id
    branch_id: Id
    zone: str
    kind: str
    status: str
    accessible: bool = False
    capabilities: DeviceCapabilities
    cash_units: list[CashUnitState] = []
    cash_available: dict[str, Amount] = {}
    available_service_types: list[str] = []
    unavailable_service_types: dict[str, str] = {}
    forecast_cash_out_at: AwareDatetime | None = None
    queue_length: int = 0
    expected_wait_s: float = 0.0
    at: AwareDatetime


class DeviceTransactionDone(Payload):
    """A transaction done at a device (also refused ones: ``succeeded`` false)."""

    transaction_id: Id
    device_id: Id
    branch_id: Id
    kind: str
    service_type: str
    amount: Amount | None = None
    currency: str | None = None
    customer_id: Id | None = None
    diversion_id: Id | None = None
    succeeded: bool = True
    occurred_at: AwareDatetime
