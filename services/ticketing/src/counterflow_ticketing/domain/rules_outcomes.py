"""The diversion loop seen from the rules: decision records and completion rates per
rule and branch (was the diversion real?)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules import Decision
from counterflow_ticketing.persistence import rules_repo


async def record_decision(
    session: AsyncSession,
    decision: Decision,
    *,
    at: datetime,
    diversion_id: str | None = None,
    ticket_id: str | None = None,
    branch_id: str | None = None,
    service_type: str | None = None,
    customer_id: str | None = None,
) -> str:
    """Record ``decision`` (rule set version, rule id, the inputs it used) in the request's
    transaction; returns the decision id. These records are the what-if's recorded traffic.
    ``branch_id``/``service_type``/``customer_id`` are the request's, used when the
    decision's inputs do not carry them."""
    inputs = {**{k: v for k, v in (("branch_id", branch_id), ("service_type", service_type), ("customer_id", customer_id)) if v is not None}, **decision.inputs}
    decision_id = str(uuid.uuid4())
    await rules_repo.record_decision(
        session,
        {
            "decision_id": decision_id,
            "decided_at": at,
            "branch_id": inputs["branch_id"],
            "service_type": inputs["service_type"],
            "customer_id": inputs.get("customer_id"),
            "kind": decision.kind,
            "channel": decision.channel,
            "device_id": decision.device_id,
            "rule_set_version": decision.rule_set_version,
            "rule_id": decision.rule_id,
            "inputs": inputs,
            "diversion_id": diversion_id,
            "ticket_id": ticket_id,
        },
    )
    return decision_id


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
