"""Request and response bodies of the selfservice API (pydantic). Amounts are decimal
strings in major currency units; times are RFC 3339 with an offset."""

from __future__ import annotations

from datetime import datetime

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from counterflow_shared.events.payloads.common import Id, ServiceType
from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_shared.money import Amount, CurrencyCode
from counterflow_selfservice.domain.models import (
    Capabilities,
    CashUnit,
    DeviceKind,
    ReportedStatus,
    TransactionKind,
)

PositiveAmount = Annotated[Amount, Field(gt=0)]
UnitId = Annotated[str, Field(min_length=1, max_length=32)]
Zone = Annotated[str, Field(min_length=1, max_length=32, examples=["self_service"])]
OpeningHours = dict[str, list[list[str]]]


class Strict(BaseModel):
    """Bodies refuse unknown fields (a typo is an error, not a silent no-op)."""

    model_config = ConfigDict(extra="forbid")


class CapabilitiesIn(Strict):
    """What the device can do. ``max_amount``: per-transaction limit per currency."""

    service_types: list[ServiceType] = Field(min_length=1)
    max_amount: dict[CurrencyCode, PositiveAmount] = {}
    denominations: list[PositiveAmount] = []
    currencies: list[CurrencyCode] = []

    def to_domain(self) -> Capabilities:
        """The domain form."""
        return Capabilities(
            service_types=[s.value for s in self.service_types],
            max_amount=dict(self.max_amount),
            denominations=list(self.denominations),
            currencies=list(self.currencies),
        )


class CashUnitConfig(Strict):
    """One cassette: notes of ``denomination`` (major units), ``capacity`` notes at
    most, ``low`` at or below ``low_threshold``, ``full`` at or above ``full_threshold``."""

    unit_id: UnitId
    currency: CurrencyCode
    denomination: PositiveAmount
    capacity: int = Field(gt=0, le=100_000)
    low_threshold: int = Field(ge=0)
    full_threshold: int = Field(gt=0)
    count: int = Field(default=0, ge=0)

    def to_domain(self) -> CashUnit:
        """The domain form."""
        return CashUnit(**self.model_dump())


class DeviceRegistration(Strict):
    """A new device. ``opening_hours``: ``{"mon": [["08:00", "18:00"]], ...}`` in the
    branch's local time; omit for a device that is always open."""

    device_id: Id
    branch_id: Id
    zone: Zone
    kind: DeviceKind
    accessible: bool = False
    capabilities: CapabilitiesIn
    time_zone: str = Field(examples=["Europe/Prague"])
    opening_hours: OpeningHours | None = None
    typical_withdrawal: PositiveAmount | None = None
    cash_units: list[CashUnitConfig] = []


class DeviceUpdate(Strict):
    """Fields to change; fields left out stay as they are (``null`` clears
    ``opening_hours`` / ``typical_withdrawal``)."""

    zone: Zone | None = None
    accessible: bool | None = None
    capabilities: CapabilitiesIn | None = None
    time_zone: str | None = None
    opening_hours: OpeningHours | None = None
    typical_withdrawal: PositiveAmount | None = None


class CashUnitsConfig(Strict):
    """The whole cash unit configuration of a device (replaces the current one)."""

    cash_units: list[CashUnitConfig]


class DeviceView(DeviceState):
    """A device as operations see it: its published state plus registry details."""

    time_zone: str
    opening_hours: OpeningHours | None = None
    typical_withdrawal: Amount | None = None
    last_heartbeat_at: datetime | None = None


class RegisteredDevice(BaseModel):
    """Answer to a registration or credential rotation: the secret is shown only here.
    Devices send ``Authorization: Bearer <device_id>:<secret>``."""

    device: DeviceView | None = None
    device_id: str
    secret: str


class DeviceList(BaseModel):
    """A page of devices; pass ``next_after`` as ``after`` for the next page."""

    items: list[DeviceView]
    next_after: str | None = None


class UnitCount(Strict):
    """Notes in (or moved from/to) one unit."""

    unit_id: UnitId
    count: int = Field(ge=0, le=100_000)


class HeartbeatIn(Strict):
    """A device heartbeat (every 30 s): status, device clock, customers at the device,
    counts of its units."""

    status: ReportedStatus
    sent_at: AwareDatetime
    queue_length: int = Field(default=0, ge=0, le=1000)
    cash_units: list[UnitCount] = []


class HeartbeatAck(BaseModel):
    """What the service made of a heartbeat."""

    device_id: str
    status: str
    available_service_types: list[str]


class TransactionIn(Strict):
    """A transaction at the device. ``notes``: which units paid (withdrawal, optional)
    or took (deposit, required) how many notes. ``customer_id`` when the customer was
    identified; ``diversion_id`` when the device knows the customer was diverted."""

    transaction_id: Id
    kind: TransactionKind
    amount: PositiveAmount | None = None
    currency: CurrencyCode | None = None
    notes: list[UnitCount] | None = None
    customer_id: Id | None = None
    diversion_id: Id | None = None
    occurred_at: AwareDatetime


class TransactionOut(BaseModel):
    """A recorded transaction (also a refused one: ``succeeded`` false, ``refusal``)."""

    transaction_id: str
    device_id: str
    branch_id: str
    kind: str
    service_type: str
    amount: Amount | None = None
    currency: str | None = None
    notes: dict[str, int] | None = None
    customer_id: str | None = None
    diversion_id: str | None = None
    succeeded: bool
    refusal: str | None = None
    occurred_at: datetime


class ReplenishmentOut(BaseModel):
    """One unit's replenishment: notes before and after."""

    unit_id: str
    count_before: int
    count_after: int
    replenished_at: datetime


class ReplenishmentIn(Strict):
    """Counts of the replenished units after the replenishment."""

    cash_units: list[UnitCount] = Field(min_length=1)
    replenished_at: AwareDatetime


class AvailableDevice(BaseModel):
    """A device that can take a service type now."""

    device_id: str
    kind: str
    zone: str
    accessible: bool
    status: str
    queue_length: int
    expected_wait_s: float = Field(description="seconds")
    cash_available: dict[str, Amount] = {}
    forecast_cash_out_at: datetime | None = None


class ServiceAvailability(BaseModel):
    """Devices able to take one service type, shortest expected wait first."""

    service_type: str
    devices: list[AvailableDevice]


class BranchAvailability(BaseModel):
    """What self-service in a branch can take right now."""

    branch_id: str
    at: datetime
    service_types: list[ServiceAvailability]


