"""Call order: priority with ageing.

Two rules, applied in this order:

1. *Urgent first.* A ticket that has waited ``max_wait_s - guard_s`` seconds is urgent;
   urgent tickets are called before all others, oldest first. Nobody overtakes an urgent
   ticket because of priority, so once the counters able to serve it finish their
   current customers (``guard_s`` is sized for that) it is called: no customer waits
   longer than ``max_wait_s`` because others had higher priority (only if every
   counter is busy with customers who came earlier, which FIFO would also have done).
2. *Earliest due date.* Other tickets have ``due_at = queued_at + max_wait_s -
   credit(priority)`` and the earliest ``due_at`` is called first: priority buys a head
   start of ``credit`` seconds, so higher tiers and appointments go first while a low
   priority ticket still moves forward as it ages. Earliest-due-date ordering minimises
   the maximum lateness (Jackson, 1955, "Scheduling a production line to minimize
   maximum tardiness", UCLA Management Science Research Project, Research Report 43).

Ties: arrival order (a database identity, consistent across service instances).
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: Urgency starts this long before the maximum wait (seconds): about one long service,
#: so that a counter finishing its current customer calls the urgent ticket in time.
DEFAULT_GUARD_S = 300.0

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


def urgent_before(now: datetime, *, max_wait_s: float, guard_s: float = DEFAULT_GUARD_S) -> datetime:
    """Tickets queued at or before this instant are urgent at ``now`` (``guard_s`` is
    capped at half of ``max_wait_s``)."""
    guard = min(guard_s, max_wait_s / 2)
    return now - timedelta(seconds=max_wait_s - guard)
