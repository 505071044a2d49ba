"""The diversion loop seen from the rules: decision records and completion rates per
rule and branch (was the diversion real?)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules import Decision, records
from counterflow_ticketing.persistence import rules_repo
from counterflow_ticketing.persistence.rules_tables import rule_decisions


async def record_decision(session: AsyncSession, decision: Decision, *, at: datetime, **links: str | None) -> str:
    """Record ``decision`` (rule set version, rule id, the inputs it used) in the request's
    transaction; returns the decision id. These records are the what-if's recorded traffic.
    ``links``: ``diversion_id``, ``ticket_id`` and the request's ``branch_id`` /
    ``service_type`` / ``customer_id`` (see :func:`counterflow_shared.rules.records.decision_row`)."""
    return await records.record_decision(session, rule_decisions, decision, at=at, **links)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


async def completion_rates(session: AsyncSession, *, since: datetime, until: datetime, branch_id: str | None = None) -> dict[str, Any]:
    """Diversion outcomes of offers made in ``[since, until)`` per rule and branch.

    For each (rule, branch): ``offered`` (all offers), ``pending`` (not yet answered),
    ``declined``, ``accepted`` (accepted, completed or expired), ``completed``, ``expired``,
    ``in_progress`` (accepted, not yet closed), with ``acceptance_rate`` = accepted /
    answered and ``completion_rate`` = completed / (completed + expired) (closed diversions
    only; ``None`` without data). Rule set versions that contributed are listed.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"offered": 0, "pending": 0, "declined": 0, "in_progress": 0, "completed": 0, "expired": 0, "versions": set()})
    for row in await rules_repo.diversion_counts(session, since=since, until=until, branch_id=branch_id):
        g = groups[(row.rule_id, row.branch_id)]
        g["offered"] += row.n
        g["versions"].add(row.rule_set_version)
        key = {"offered": "pending", "accepted": "in_progress"}.get(row.status, row.status)
        if key in g:
            g[key] += row.n
    out = []
    for (rule_id, bid), g in sorted(groups.items()):
        accepted = g["in_progress"] + g["completed"] + g["expired"]
        answered = accepted + g["declined"]
        out.append(
            {
                "rule_id": rule_id,
                "branch_id": bid,
                "rule_set_versions": sorted(g["versions"]),
                "offered": g["offered"],
                "pending": g["pending"],
                "declined": g["declined"],
                "accepted": accepted,
                "in_progress": g["in_progress"],
                "completed": g["completed"],
                "expired": g["expired"],
                "acceptance_rate": _rate(accepted, answered),
                "completion_rate": _rate(g["completed"], g["completed"] + g["expired"]),
            }
        )
    return {"since": since.isoformat(), "until": until.isoformat(), "branch_id": branch_id, "rates": out}
