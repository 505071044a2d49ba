"""Branch-local time: business days, opening hours and day types.

A branch lives in an IANA time zone (``zoneinfo``); its opening hours are local
wall-clock times. Every conversion goes through the zone database, never a fixed offset,
so daylight-saving days come out right (Europe/Prague opens at 08:00 local = 06:00Z on
2024-03-31, the day CEST starts, and 07:00Z on 2024-10-27, the day it ends).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of IANA name ``name``.

    Raises:
        ValueError: ``name`` is not a known IANA zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def require_aware(now: datetime) -> datetime:
    """Return ``now`` if it is timezone-aware; raises ``ValueError`` for naive datetimes."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return now


def business_date(now: datetime, time_zone: str) -> date:
    """The branch-local calendar date of the aware instant ``now`` (ticket numbers restart on it)."""
    return require_aware(now).astimezone(zone(time_zone)).date()


def local_instant(day: date, wall: time, time_zone: str) -> datetime:
    """The aware UTC instant of local wall-clock ``wall`` on ``day`` in ``time_zone``.

    A wall time inside a spring-forward gap (e.g. 02:30 on the night CEST starts) does not
    exist; it is taken as the instant the clocks jumped to (PEP 495 ``fold=0`` resolves it
    with the offset before the gap, and the UTC round trip moves it after the gap). An
    ambiguous time in the autumn fold is taken at its first occurrence (``fold=0``).
    """
    return datetime.combine(day, wall, tzinfo=zone(time_zone)).astimezone(UTC)


@dataclass(frozen=True)
class Opening:
    """One opening interval of a weekday: ``weekday`` 0 = Monday; local ``opens``/``closes``."""

    weekday: int
    opens: time
    closes: time


def opening_intervals(day: date, hours: Iterable[Opening], closed_days: Iterable[date], time_zone: str) -> list[tuple[datetime, datetime]]:
    """The UTC ``(opens, closes)`` intervals of local ``day``, empty on a closed day."""
    if day in set(closed_days):
        return []
    return sorted(
        (local_instant(day, h.opens, time_zone), local_instant(day, h.closes, time_zone)) for h in hours if h.weekday == day.weekday()
    )


def first_slot(day: date, hours: Iterable[Opening], closed_days: Iterable[date], time_zone: str) -> datetime | None:
    """The UTC instant the branch opens on local ``day`` (``None`` when closed all day)."""
    intervals = opening_intervals(day, hours, closed_days, time_zone)
    return intervals[0][0] if intervals else None


def slots(day: date, hours: Iterable[Opening], closed_days: Iterable[date], time_zone: str, minutes: int) -> list[datetime]:
    """Appointment slot starts (UTC) of local ``day``: every ``minutes`` from each opening,
    the last slot ending no later than the closing time."""
    out: list[datetime] = []
    step = timedelta(minutes=minutes)
    for opens, closes in opening_intervals(day, hours, closed_days, time_zone):
        t = opens
        while t + step <= closes:
            out.append(t)
            t += step
    return out


def day_type(day: date, closed_days: Iterable[date]) -> str:
    """``holiday`` (a closed day), ``saturday``, ``sunday`` or ``weekday`` (rule engine vocabulary)."""
    if day in set(closed_days):
        return "holiday"
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "weekday")


def local_clock(now: datetime, time_zone: str) -> str:
    """Branch-local wall-clock time of ``now`` as ``HH:MM``."""
    return require_aware(now).astimezone(zone(time_zone)).strftime("%H:%M")
