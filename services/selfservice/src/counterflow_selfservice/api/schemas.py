"""Request and response bodies of the selfservice API (pydantic). Amounts are decimal
strings in major currency units; times are RFC 3339 with an offset."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from counterflow_shared.events.payloads.common import Id, ServiceType
from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_shared.constraints import BankDateTime
from counterflow_shared.money import MAX_SCALE, Amount, CurrencyAmount, CurrencyCode, PositiveAmount, check_minor_unit, decimal_places, minor_unit
from counterflow_selfservice.domain.models import (
    Capabilities,
    CashUnit,
    DeviceKind,
    ReportedStatus,
    TransactionKind,
)

UnitId = Annotated[str, Field(min_length=1, max_length=32)]
Zone = Annotated[str, Field(min_length=1, max_length=32, examples=["self_service"])]
#: ``{"mon": [["08:00", "18:00"]]}``: up to 7 days of up to 8 ``[opens, closes]`` pairs
OpeningHours = Annotated[
    dict[
        Annotated[str, Field(max_length=3)],
        Annotated[list[Annotated[list[Annotated[str, Field(max_length=5)]], Field(min_length=2, max_length=2)]], Field(max_length=8)],
    ],
    Field(max_length=7),
]
TimeZone = Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Prague"])]


class Strict(BaseModel):
    """Bodies refuse unknown fields (a typo is an error, not a silent no-op)."""

    model_config = ConfigDict(extra="forbid")


class CapabilitiesIn(Strict):
    """What the device can do. ``max_amount``: per-transaction limit per currency."""

    service_types: list[ServiceType] = Field(min_length=1, max_length=32)
    currencies: list[CurrencyCode] = Field(default=[], max_length=16)
    max_amount: dict[CurrencyCode, PositiveAmount] = Field(default={}, max_length=16)
    denominations: list[PositiveAmount] = Field(default=[], max_length=32)

    @field_validator("max_amount")
    @classmethod
    def _limits_fit_their_currency(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, amount in value.items():
            check_minor_unit(amount, currency)
        return value

    @field_validator("denominations")
    @classmethod
    def _denominations_fit_a_currency(cls, value: list[Decimal], info: ValidationInfo) -> list[Decimal]:
        currencies = info.data.get("currencies") or []
        places = max((minor_unit(c) for c in currencies), default=MAX_SCALE)
        for d in value:
            if decimal_places(d) > places:
                raise ValueError(f"denomination {d} has more decimal places than any of the device's currencies ({places}, ISO 4217 minor unit)")
        return value

    def to_domain(self) -> Capabilities:
        """The domain form."""
        return Capabilities(
            service_types=[s.value for s in self.service_types],
            max_amount=dict(self.max_amount),
            denominations=list(self.denominations),
            currencies=list(self.currencies),
        )


def _fits_device_currencies(value: Decimal | None, capabilities: CapabilitiesIn | None) -> Decimal | None:
    """``value`` if it has no more decimals than the widest minor unit of the device's
    currencies (:data:`~counterflow_shared.money.MAX_SCALE` when it names none)."""
    if value is None:
        return None
    currencies = set(capabilities.currencies) | set(capabilities.max_amount) if capabilities else set()
    places = max((minor_unit(c) for c in currencies), default=MAX_SCALE)
    if decimal_places(value) > places:
        raise ValueError(f"has more decimal places than the device's currencies allow ({places}, ISO 4217 minor unit); it is not rounded")
    return value


class CashUnitConfig(Strict):
    """One cassette: notes of ``denomination`` (major units), ``capacity`` notes at
    most, ``low`` at or below ``low_threshold``, ``full`` at or above ``full_threshold``."""

    unit_id: UnitId
    currency: CurrencyCode
    denomination: Annotated[CurrencyAmount, Field(gt=0)]
    capacity: int = Field(gt=0, le=100_000)
    low_threshold: int = Field(ge=0, le=100_000)
    full_threshold: int = Field(gt=0, le=100_000)
    count: int = Field(default=0, ge=0, le=100_000)

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
    time_zone: TimeZone
    opening_hours: OpeningHours | None = None
    typical_withdrawal: PositiveAmount | None = None
    cash_units: list[CashUnitConfig] = Field(default=[], max_length=16)

    @field_validator("typical_withdrawal")
    @classmethod
    def _typical_fits_the_currencies(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _fits_device_currencies(value, info.data.get("capabilities"))


class DeviceUpdate(Strict):
    """Fields to change; fields left out stay as they are (``null`` clears
    ``opening_hours`` / ``typical_withdrawal``)."""

    zone: Zone | None = None
    accessible: bool | None = None
    capabilities: CapabilitiesIn | None = None
    time_zone: TimeZone | None = None
    opening_hours: OpeningHours | None = None
    typical_withdrawal: PositiveAmount | None = None

    @field_validator("typical_withdrawal")
    @classmethod
    def _typical_fits_the_currencies(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _fits_device_currencies(value, info.data.get("capabilities"))


class CashUnitsConfig(Strict):
    """The whole cash unit configuration of a device (replaces the current one)."""

    cash_units: list[CashUnitConfig] = Field(max_length=16)


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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "online", "sent_at": "2026-12-01T09:14:00+00:00", "queue_length": 1, "cash_units": [{"unit_id": "cas1", "count": 1840}, {"unit_id": "cas2", "count": 920}]}]},
    )

    status: ReportedStatus
    sent_at: BankDateTime
    queue_length: int = Field(default=0, ge=0, le=1000)
    cash_units: list[UnitCount] = Field(default=[], max_length=16)


class HeartbeatAck(BaseModel):
    """What the service made of a heartbeat."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"device_id": "atm-prague-1-01", "status": "online", "available_service_types": ["cash_withdrawal", "balance_inquiry"]}]})

    device_id: str
    status: str
    available_service_types: list[str]


class TransactionIn(Strict):
    """A transaction at the device. ``notes``: which units paid (withdrawal, optional)
    or took (deposit, required) how many notes. ``customer_id`` when the customer was
    identified; ``diversion_id`` when the device knows the customer was diverted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "atm-prague-1-01-000731",
                    "kind": "withdrawal",
                    "currency": "CZK",
                    "amount": "2000",
                    "notes": [{"unit_id": "cas1", "count": 2}],
                    "customer_id": "C-1029",
                    "diversion_id": "0c3f1d9a-2b7e-4e55-a0c1-3d1b6f2e9b77",
                    "occurred_at": "2026-12-01T09:16:40+00:00",
                }
            ]
        },
    )

    transaction_id: Id
    kind: TransactionKind
    currency: CurrencyCode | None = None
    amount: Annotated[CurrencyAmount, Field(gt=0)] | None = None
    notes: list[UnitCount] | None = Field(default=None, max_length=16)
    customer_id: Id | None = None
    diversion_id: Id | None = None
    occurred_at: BankDateTime


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

    cash_units: list[UnitCount] = Field(min_length=1, max_length=16)
    replenished_at: BankDateTime


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


