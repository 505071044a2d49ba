"""What a device can take right now: open, serving, and (for cash) able to pay."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from counterflow_shared.events.payloads.common import ServiceType
from counterflow_selfservice.domain.cash import takes_deposits, withdrawal_obstacle
from counterflow_selfservice.domain.models import SERVING_STATUSES, Device

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hhmm(text: str) -> time:
    """``"HH:MM"`` -> :class:`datetime.time`; ``"24:00"`` is the end of the day.

    Raises:
        ValueError: not a valid time.
    """
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def is_open(device: Device, now: datetime) -> bool:
    """Whether ``now`` falls in the device's local opening hours (always open when it
    has none: an outside-wall ATM). Lobby devices close with the branch."""
    if device.opening_hours is None:
        return True
    local = now.astimezone(ZoneInfo(device.time_zone))
    intervals = device.opening_hours.get(WEEKDAYS[local.weekday()], [])
    clock = local.time()
    return any(parse_hhmm(start) <= clock < parse_hhmm(end) for start, end in intervals)


def typical_withdrawal(device: Device, default: Decimal) -> Decimal:
    """The amount a device must still be able to pay to be worth a customer's walk:
    configured on the device, else the median of its recent withdrawals, else ``default``."""
    if device.typical_withdrawal is not None:
        return device.typical_withdrawal
    if device.demand_model is not None:
        return device.demand_model.typical_withdrawal
    return default


def unavailable_reasons(device: Device, now: datetime, default_typical: Decimal) -> dict[str, str]:
    """Why each service type the device is capable of cannot be taken now (service type
    -> reason; absent = available): ``status`` (not serving), ``closed`` (outside its
    opening hours), ``cash`` / ``notes`` for withdrawals
    (:func:`~.cash.withdrawal_obstacle`, in every currency; ``notes`` when that is the
    obstacle in some currency), ``full`` for deposits (no unit with room). Ticketing shows
    these in its decision records (why a device was not offered)."""
    capable = device.capabilities.service_types
    if device.status not in SERVING_STATUSES:
        return {st: "status" for st in capable}
    if not is_open(device, now):
        return {st: "closed" for st in capable}
    typical = typical_withdrawal(device, default_typical)
    currencies = device.capabilities.currencies or sorted({u.currency for u in device.cash_units})
    out = {}
    for service_type in capable:
        if service_type == ServiceType.CASH_WITHDRAWAL:
            obstacles = [withdrawal_obstacle(device.cash_units, c, typical) for c in currencies]
            if obstacles and None not in obstacles:
                out[service_type] = "notes" if "notes" in obstacles else "cash"
            elif not obstacles:
                out[service_type] = "cash"
        elif service_type == ServiceType.CASH_DEPOSIT and not any(takes_deposits(device.cash_units, c) for c in currencies):
            out[service_type] = "full"
    return out


def available_service_types(device: Device, now: datetime, default_typical: Decimal) -> list[str]:
    """Service types the device can take now (empty when not serving or closed): those
    without a :func:`unavailable_reasons` entry. Cash withdrawals need a currency whose
    units are not all low and can pay a typical withdrawal (:func:`~.cash.serves_withdrawals`);
    deposits need a unit with room."""
    blocked = unavailable_reasons(device, now, default_typical)
    return [st for st in device.capabilities.service_types if st not in blocked]


def expected_wait_s(device: Device, mean_transaction_s: float) -> float:
    """Expected wait at the device (seconds): the customers at or waiting for it times
    the mean service time of one customer. The queue is what the device reports in its
    heartbeat (presence sensor or session count); no queueing model is applied."""
    return float(device.queue_length) * mean_transaction_s
