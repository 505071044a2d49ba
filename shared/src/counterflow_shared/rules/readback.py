"""Reading a channel decision record back (issue 17), shared by ticketing (kiosk
decisions) and the mobile gateway (app decisions): the rule as written in the deciding
version and the JSON view of a ``rule_decisions`` row (:mod:`.records`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession


async def find_decision(session: AsyncSession, table: Table, *, decision_id: str | None = None, ticket_id: str | None = None, diversion_id: str | None = None) -> Row | None:
    """The decision of ``table`` with ``decision_id``, or the one that produced
    ``ticket_id`` / ``diversion_id`` (the first one recorded when several name it), or
    ``None``. Exactly one key is expected; each is indexed."""
    d = table.c
    if decision_id is not None:
        cond = d.decision_id == decision_id
    elif ticket_id is not None:
        cond = d.ticket_id == ticket_id
    else:
        cond = d.diversion_id == diversion_id
    return (await session.execute(select(table).where(cond).order_by(d.decided_at).limit(1))).first()


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
