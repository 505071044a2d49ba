"""Checks of device and operator input that need the device's configuration (pydantic
has already checked shapes and signs). Each failure is a 422 naming the field; nothing
is written before these checks pass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from counterflow_shared.web.problems import invalid
from counterflow_selfservice.domain.availability import WEEKDAYS, parse_hhmm
from counterflow_selfservice.domain.models import CashUnit, Device


def check_report_time(field: str, at: datetime, now: datetime, *, max_skew_s: float, max_age_s: float) -> None:
    """A device time must not lie more than ``max_skew_s`` seconds in the future nor
    more than ``max_age_s`` seconds in the past.

    Raises:
        Problem: 422 naming ``field``.
    """
    if at > now + timedelta(seconds=max_skew_s):
        raise invalid(field, f"{at.isoformat()} is more than {max_skew_s:.0f} s in the future")
    if at < now - timedelta(seconds=max_age_s):
        raise invalid(field, f"{at.isoformat()} is more than {max_age_s:.0f} s in the past")


def check_unit_counts(device: Device, counts: Sequence[tuple[str, int]], field: str) -> dict[str, int]:
    """Check reported note counts (``[(unit_id, count)]``) against the device's units:
    known unit, reported once, at most the unit's capacity.

    Returns:
        unit id -> count.

    Raises:
        Problem: 422 naming ``<field>.<i>.unit_id`` or ``<field>.<i>.count``.
    """
    out: dict[str, int] = {}
    for i, (unit_id, count) in enumerate(counts):
        unit = device.unit(unit_id)
        if unit is None:
            raise invalid(f"{field}.{i}.unit_id", f"device {device.device_id} has no cash unit {unit_id!r}")
        if unit_id in out:
            raise invalid(f"{field}.{i}.unit_id", f"cash unit {unit_id!r} reported twice")
        if count > unit.capacity:
            raise invalid(f"{field}.{i}.count", f"{count} notes exceed the capacity of unit {unit_id} ({unit.capacity})")
        out[unit_id] = count
    return out


def check_unit_config(units: Sequence[CashUnit], field: str = "body.cash_units") -> None:
    """Check a cash unit configuration: unique ids, ``low < full <= capacity``,
    ``count <= capacity``.

    Raises:
        Problem: 422 naming the offending field.
    """
    seen: set[str] = set()
    for i, u in enumerate(units):
        if u.unit_id in seen:
            raise invalid(f"{field}.{i}.unit_id", f"cash unit {u.unit_id!r} configured twice")
        seen.add(u.unit_id)
        if u.full_threshold > u.capacity:
            raise invalid(f"{field}.{i}.full_threshold", f"must be at most the capacity {u.capacity}")
        if u.low_threshold >= u.full_threshold:
            raise invalid(f"{field}.{i}.low_threshold", f"must be below the full threshold {u.full_threshold}")
        if u.count > u.capacity:
            raise invalid(f"{field}.{i}.count", f"{u.count} notes exceed the capacity {u.capacity}")


def check_time_zone(name: str, field: str = "body.time_zone") -> None:
    """The name must be an IANA time zone.

    Raises:
        Problem: 422 naming ``field``.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, f"{name!r} is not an IANA time zone") from None


def check_opening_hours(hours: dict[str, list[list[str]]] | None, field: str = "body.opening_hours") -> None:
    """Opening hours: weekday keys ``mon``..``sun``, intervals ``["HH:MM", "HH:MM"]``
    with start before end (``"24:00"`` allowed as an end).

    Raises:
        Problem: 422 naming the offending entry.
    """
    if hours is None:
        return
    for day, intervals in hours.items():
        if day not in WEEKDAYS:
            raise invalid(f"{field}.{day}", f"weekday must be one of {', '.join(WEEKDAYS)}")
        for i, interval in enumerate(intervals):
            if len(interval) != 2:
                raise invalid(f"{field}.{day}.{i}", "an interval is [start, end]")
            try:
                start, end = parse_hhmm(interval[0]), parse_hhmm(interval[1])
            except (ValueError, AttributeError):
                raise invalid(f"{field}.{day}.{i}", "times are HH:MM") from None
            if start >= end:
                raise invalid(f"{field}.{day}.{i}", "start must be before end")
