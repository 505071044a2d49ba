"""Call order: priority with ageing, as an earliest-due-date rule.

Every waiting ticket has a due time ``due_at = queued_at + max_wait_s - credit(priority)``
and counters call the eligible ticket with the earliest ``due_at`` (ties: lowest
sequence). Priority buys a head start of ``credit`` seconds, never more than
``max_wait_s - min_slack_s``, so a ticket that entered the queue at ``t0`` can only be
overtaken by tickets that entered before ``t0 + credit_max``. A walk-in behind a steady
stream of priority customers is therefore called no later than the tickets queued
before ``t0 + credit_max`` take to serve, whatever the stream: that is the ageing bound.
Earliest-due-date ordering is the classic rule that minimises the maximum lateness
(Jackson, 1955, "Scheduling a production line to minimize maximum tardiness", UCLA
Management Science Research Project, Research Report 43).
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: Priority points per customer tier (scoring read model); anonymous walk-ins get 0.
TIER_PRIORITY = {"private": 4, "vip": 3, "premium": 2, "mass": 0, "basic": 0}

#: Extra points for an appointment checked in within its slot.
APPOINTMENT_PRIORITY = 3

#: Priority points are capped here (rules may add boosts).
MAX_PRIORITY = 9


def priority_of(*, tier: str | None, appointment: bool, boost: int = 0) -> int:
    """Priority points (0..:data:`MAX_PRIORITY`) from tier, appointment and a rule boost."""
    points = TIER_PRIORITY.get(tier or "", 0) + (APPOINTMENT_PRIORITY if appointment else 0) + max(0, boost)
    return min(points, MAX_PRIORITY)


def credit_s(priority: int, *, step_s: float, max_wait_s: float, min_slack_s: float = 60.0) -> float:
    """Head start in seconds for ``priority`` points: ``priority * step_s`` capped at
    ``max_wait_s - min_slack_s`` (never negative)."""
    return max(0.0, min(priority * step_s, max_wait_s - min_slack_s))


def due_at(queued_at: datetime, priority: int, *, max_wait_s: float, step_s: float) -> datetime:
    """The earliest-due-date key of a ticket queued at ``queued_at`` (aware UTC)."""
    return queued_at + timedelta(seconds=max_wait_s - credit_s(priority, step_s=step_s, max_wait_s=max_wait_s))
