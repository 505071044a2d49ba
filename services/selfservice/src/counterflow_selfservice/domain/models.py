"""Domain vocabulary of self-service devices (XFS4IoT-style status, cash units, transactions).

Status names follow the XFS4IoT Common interface (CEN/XFS 4, ``Common.Status``: device
online / offline / hardwareError / userError / noDevice / powerOff, plus the service
states of the device application); we keep the subset a branch needs and add
``maintenance`` (replenishment or engineer visit) and ``retired``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from counterflow_shared.events.payloads.common import ServiceType


class DeviceKind(StrEnum):
    """What a device is: ATM (withdraw), cash recycler (withdraw and deposit; deposited
    notes are dispensed again), multi-function kiosk (transfers, bill payments,
    statements), passbook/statement printer."""

    ATM = "atm"
    CASH_RECYCLER = "cash_recycler"
    KIOSK = "kiosk"
    STATEMENT_PRINTER = "statement_printer"

    @property
    def handles_cash(self) -> bool:
        """Whether the device has cash units (and a cash-out forecast)."""
        return self in (DeviceKind.ATM, DeviceKind.CASH_RECYCLER)


class ReportedStatus(StrEnum):
    """Status a device may report in its heartbeat. ``offline`` is never reported: the
    service detects it from missed heartbeats."""

    ONLINE = "online"
    BUSY = "busy"
    HARDWARE_ERROR = "hardware_error"
    OUT_OF_SERVICE = "out_of_service"
    MAINTENANCE = "maintenance"


class DeviceStatus(StrEnum):
    """The status the service publishes: a reported status, or offline / retired."""

    ONLINE = "online"
    BUSY = "busy"
    HARDWARE_ERROR = "hardware_error"
    OUT_OF_SERVICE = "out_of_service"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"
    RETIRED = "retired"


#: Statuses in which a device takes customers (busy: yes, with a wait).
SERVING_STATUSES = frozenset({DeviceStatus.ONLINE, DeviceStatus.BUSY})


class ReplenishmentStatus(StrEnum):
    """Replenishment status of one cash unit (XFS4IoT ``CashManagement`` unit status:
    ok, low, empty, full; ``high`` is called full here)."""

    OK = "ok"
    LOW = "low"
    EMPTY = "empty"
    FULL = "full"


class TransactionKind(StrEnum):
    """What a customer did at a device."""

    WITHDRAWAL = "withdrawal"
    DEPOSIT = "deposit"
    TRANSFER = "transfer"
    BILL_PAYMENT = "bill_payment"
    STATEMENT_PRINT = "statement_print"

    @property
    def service_type(self) -> str:
        """The branch service type this transaction performs (the ticketing catalog's)."""
        return _SERVICE_TYPE_OF[self]

    @property
    def moves_cash(self) -> bool:
        """Whether the transaction changes cash unit counts."""
        return self in (TransactionKind.WITHDRAWAL, TransactionKind.DEPOSIT)

    @property
    def needs_amount(self) -> bool:
        """Whether an amount and currency are required."""
        return self is not TransactionKind.STATEMENT_PRINT


_SERVICE_TYPE_OF = {
    TransactionKind.WITHDRAWAL: ServiceType.CASH_WITHDRAWAL.value,
    TransactionKind.DEPOSIT: ServiceType.CASH_DEPOSIT.value,
    TransactionKind.TRANSFER: ServiceType.TRANSFER.value,
    TransactionKind.BILL_PAYMENT: ServiceType.BILL_PAYMENT.value,
    TransactionKind.STATEMENT_PRINT: ServiceType.STATEMENT.value,
}

#: Diversion channels that target a device (the others are mobile / appointment).
DEVICE_CHANNELS = frozenset({"atm", "cash_recycler", "kiosk"})


@dataclass
class CashUnit:
    """One cassette of a cash device.

    Attributes:
        count: notes in the unit now.
        capacity: notes the unit holds at most.
        low_threshold: at or below this count the unit is ``low`` (replenishment due).
        full_threshold: at or above this count the unit is ``full`` (no more deposits).
        denomination: value of one note in major units of ``currency``.
    """

    unit_id: str
    currency: str
    denomination: Decimal
    capacity: int
    low_threshold: int
    full_threshold: int
    count: int

    @property
    def status(self) -> ReplenishmentStatus:
        """Replenishment status from the count and the thresholds."""
        if self.count <= 0:
            return ReplenishmentStatus.EMPTY
        if self.count <= self.low_threshold:
            return ReplenishmentStatus.LOW
        if self.count >= self.full_threshold:
            return ReplenishmentStatus.FULL
        return ReplenishmentStatus.OK

    @property
    def value(self) -> Decimal:
        """Cash in the unit, major units of ``currency``."""
        return self.denomination * self.count


@dataclass
class Capabilities:
    """What a device can do: service types, per-transaction maximum per currency (major
    units), denominations and currencies handled."""

    service_types: list[str]
    max_amount: dict[str, Decimal] = field(default_factory=dict)
    denominations: list[Decimal] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)


@dataclass
class DemandModel:
    """A fitted daily net cash demand model of one device (see :mod:`.forecast`).

    Attributes:
        currency: the currency forecast.
        level: deseasonalised daily net withdrawals (major units per day).
        weekday_index: multiplicative index per local weekday, Monday = 0 (mean 1).
        typical_withdrawal: median recent withdrawal (major units).
        fitted_at: when the model was fitted (UTC).
        factors: calendar factors (:data:`.demand.EFFECTS` order); empty for a model
            stored before calendar effects existed.
        p90_cumulative_ratio: P90 / point ratio of cumulative demand after 1..14 days
            (:meth:`.demand.DemandFit.cumulative_quantile`); empty = point forecast.
        path_start / path: the fitted point forecast of the days from ``path_start``
            (major units per day; :attr:`.demand.DemandFit.path`); empty = none.
        country / subdivision: the holiday calendar of the factors.
    """

    currency: str
    level: float
    weekday_index: list[float]
    typical_withdrawal: Decimal
    fitted_at: datetime
    factors: list[float] = field(default_factory=list)
    p90_cumulative_ratio: list[float] = field(default_factory=list)
    country: str | None = None
    subdivision: str | None = None
    path_start: date | None = None
    path: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form stored with the device."""
        return {
            "currency": self.currency,
            "level": self.level,
            "weekday_index": self.weekday_index,
            "typical_withdrawal": str(self.typical_withdrawal),
            "fitted_at": self.fitted_at.isoformat(),
            "factors": self.factors,
            "p90_cumulative_ratio": self.p90_cumulative_ratio,
            "country": self.country,
            "subdivision": self.subdivision,
            "path_start": self.path_start.isoformat() if self.path_start else None,
            "path": self.path,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "DemandModel":
        """Inverse of :meth:`to_json`."""
        return cls(
            currency=doc["currency"],
            level=float(doc["level"]),
            weekday_index=[float(x) for x in doc["weekday_index"]],
            typical_withdrawal=Decimal(doc["typical_withdrawal"]),
            fitted_at=datetime.fromisoformat(doc["fitted_at"]),
            factors=[float(x) for x in doc.get("factors") or []],
            p90_cumulative_ratio=[float(x) for x in doc.get("p90_cumulative_ratio") or []],
            country=doc.get("country"),
            subdivision=doc.get("subdivision"),
            path_start=date.fromisoformat(doc["path_start"]) if doc.get("path_start") else None,
            path=[float(x) for x in doc.get("path") or []],
        )


@dataclass
class Device:
    """A self-service device as the domain sees it.

    Attributes:
        time_zone: IANA zone of the branch (opening hours are branch-local).
        opening_hours: weekday (``mon``..``sun``) -> list of ``["HH:MM", "HH:MM"]``
            local intervals; ``None`` = always open (a device in an outside wall).
        reported_status: what the device said last; ``offline`` overrides it.
        queue_length: customers at or waiting for the device (heartbeat).
    """

    device_id: str
    branch_id: str
    zone: str
    kind: DeviceKind
    accessible: bool
    capabilities: Capabilities
    time_zone: str
    opening_hours: dict[str, list[list[str]]] | None
    reported_status: ReportedStatus
    offline: bool
    retired: bool
    last_heartbeat_at: datetime | None
    queue_length: int
    typical_withdrawal: Decimal | None
    demand_model: DemandModel | None
    cash_units: list[CashUnit] = field(default_factory=list)
    #: fingerprint of the last published state (see :func:`.state.fingerprint`)
    published_fingerprint: str | None = None

    @property
    def status(self) -> DeviceStatus:
        """Published status: retired, offline (missed heartbeats) or the reported one."""
        if self.retired:
            return DeviceStatus.RETIRED
        if self.offline:
            return DeviceStatus.OFFLINE
        return DeviceStatus(self.reported_status.value)

    def unit(self, unit_id: str) -> CashUnit | None:
        """The cash unit ``unit_id``, or ``None``."""
        return next((u for u in self.cash_units if u.unit_id == unit_id), None)
