"""Reading a channel decision back (issue 17): what the rules engine saw, which rule
decided, every veto and its reason, why each device was not offered, what the customer
was told, and what became of it (the diversion's status)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import not_found
from counterflow_ticketing.persistence import decisions_repo, rules_repo, tickets_repo


def rule_of(document: dict[str, Any] | None, rule_id: str, branch_id: str) -> dict[str, Any] | None:
    """The rule ``rule_id`` of a rule set ``document`` as written (a branch override's rule
    when ``branch_id`` is in its branches), ``{"id": "default", "then": ...}`` for the
    default action, ``None`` when unknown (no active set: version 0)."""
    if document is None:
        return None
    overrides = [o for o in document.get("overrides", []) if branch_id in o.get("branches", [])]
    for scope in (*overrides, document):
        for rule in scope.get("rules", []):
            if rule.get("id") == rule_id:
                return rule
    if rule_id == "default":
        default = next((o["default"] for o in overrides if "default" in o), document.get("default"))
        return {"id": "default", "then": default} if default is not None else None
    return None


def decision_view(row: Row, rule: dict[str, Any] | None, outcome: str | None) -> dict[str, Any]:
    """JSON-ready decision: ids, ``decided_at`` (ISO 8601), ``kind``, ``channel``,
    ``device_id``, ``rule_set_version``, ``rule_id``, ``rule`` (as written in that
    version), ``inputs`` (the recorded ``DecisionInput``: tier, propensity, counter wait
    in seconds, SLA share, devices, needs, local time... and ``used``, the conditions the
    rule looked at), ``vetoes`` (``[{"rule_id", "reason"}]``), ``devices_not_offered``
    (``[{"device_id", "kind", "reasons"}]``), ``told`` (explanation, fee notice,
    message, offer lifetime in seconds, priority boost, routing), ``diversion_status``
    (``None`` for ticket decisions)."""
    detail = row.detail or {}
    return {
        "decision_id": row.decision_id,
        "decided_at": row.decided_at.isoformat(),
        "branch_id": row.branch_id,
        "service_type": row.service_type,
        "customer_id": row.customer_id,
        "kind": row.kind,
        "channel": row.channel,
        "device_id": row.device_id,
        "rule_set_version": row.rule_set_version,
        "rule_id": row.rule_id,
        "rule": rule,
        "ticket_id": row.ticket_id,
        "diversion_id": row.diversion_id,
        "diversion_status": outcome,
        "inputs": row.inputs,
        "vetoes": detail.get("vetoes", []),
        "devices_not_offered": detail.get("devices_not_offered", []),
        "told": {k: detail.get(k) for k in ("explanation", "fee_notice", "message", "offer_ttl_s", "priority_boost", "route_to", "expected_accept")},
    }


async def read_decision(session: AsyncSession, staff: StaffPrincipal, **key: str | None) -> dict[str, Any]:
    """The decision found by one of ``decision_id`` / ``ticket_id`` / ``diversion_id``.

    Raises:
        Problem: 404 ``not-found`` when none; 403 when the staff member may not see its branch.
    """
    row = await decisions_repo.find(session, **key)
    if row is None:
        name, value = next((k, v) for k, v in key.items() if v is not None)
        raise not_found("decision", f"{name}={value}")
    staff.require_branch(row.branch_id)
    version = await rules_repo.get_version(session, row.rule_set_version) if row.rule_set_version else None
    outcome = None
    if row.diversion_id:
        diversion = await tickets_repo.get_diversion(session, row.diversion_id)
        outcome = diversion.status if diversion is not None else None
    return decision_view(row, rule_of(version.document if version is not None else None, row.rule_id, row.branch_id), outcome)
