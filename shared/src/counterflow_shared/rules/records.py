"""Decision records: every channel decision (ticket or offer) a service makes is stored
with the rule set version, the rule id and the inputs it used, in the service's own
database, in the transaction of the request. Ticketing's records are the what-if's
recorded traffic; the mobile gateway records its app decisions the same way.

Both services create the table with :func:`decision_table` (same name and columns, each
in its own database through its own migrations) and write with :func:`record_decision`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules.model import Decision

DECISIONS_TABLE = "rule_decisions"


def decision_table(metadata: MetaData) -> Table:
    """The ``rule_decisions`` table in ``metadata``.

    Columns: ``decision_id`` (uuid text), ``decided_at`` (timestamptz, UTC), ``branch_id``,
    ``service_type``, ``customer_id`` (null for anonymous), ``kind`` (``ticket``/``offer``),
    ``channel``, ``device_id``, ``rule_set_version`` (0 = no active set), ``rule_id``,
    ``inputs`` (JSON: the recorded ``DecisionInput`` plus ``used``), ``diversion_id`` /
    ``ticket_id`` (what the decision produced; the mobile gateway stores its remote
    request id as ``ticket_id``), ``detail`` (JSON, :func:`decision_detail`: every veto
    with its reason, why each device was not offered, what the customer was told; null
    in records written before issue 17).
    """
    return Table(
        DECISIONS_TABLE,
        metadata,
        Column("decision_id", String(64), primary_key=True),
        Column("decided_at", DateTime(timezone=True), nullable=False),
        Column("branch_id", String(64), nullable=False),
        Column("service_type", String(64), nullable=False),
        Column("customer_id", String(64)),
        Column("kind", String(16), nullable=False),
        Column("channel", String(32), nullable=False),
        Column("device_id", String(64)),
        Column("rule_set_version", Integer, nullable=False),
        Column("rule_id", String(200), nullable=False),
        Column("inputs", JSON, nullable=False),
        Column("diversion_id", String(64)),
        Column("ticket_id", String(64)),
        Column("detail", JSON),
        Index("ix_rule_decisions_ticket", "ticket_id"),
        Index("ix_rule_decisions_diversion", "diversion_id"),
        Index("ix_rule_decisions_branch_time", "branch_id", "decided_at"),
        Index("ix_rule_decisions_time", "decided_at"),
    )


def decision_detail(decision: Decision) -> dict[str, Any]:
    """What a decision record keeps beside its inputs (issue 17):

    * ``vetoes``: ``[{"rule_id", "reason"}]``, every offer the protections refused, in
      evaluation order (reasons of :func:`~counterflow_shared.rules.protections.veto_diversion`);
    * ``devices_not_offered``: ``[{"device_id", "kind", "reasons"}]``
      (:func:`~counterflow_shared.rules.protections.devices_not_offered`);
    * ``explanation``, ``fee_notice``, ``message``, ``offer_ttl_s`` (seconds),
      ``priority_boost``, ``route_to``, ``expected_accept`` (probability): what the
      customer was told and why.
    """
    vetoes = []
    for veto in decision.vetoes:
        rule_id, _, reason = veto.partition(":")
        vetoes.append({"rule_id": rule_id, "reason": reason})
    return {
        "vetoes": vetoes,
        "devices_not_offered": list(decision.devices_not_offered),
        "explanation": decision.explanation,
        "fee_notice": decision.fee_notice,
        "message": decision.message,
        "offer_ttl_s": decision.offer_ttl_s,
        "priority_boost": decision.priority_boost,
        "route_to": decision.route_to,
        "expected_accept": decision.expected_accept,
    }


def decision_row(
    decision: Decision,
    *,
    at: datetime,
    diversion_id: str | None = None,
    ticket_id: str | None = None,
    branch_id: str | None = None,
    service_type: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """The row recording ``decision`` made at ``at`` (aware). ``branch_id`` /
    ``service_type`` / ``customer_id`` are the request's, used when the decision's inputs
    lack them (a decision without an active rule set still names them).

    Raises:
        KeyError: neither the inputs nor the arguments name the branch or service type.
    """
    given = {"branch_id": branch_id, "service_type": service_type, "customer_id": customer_id}
    inputs = {**{k: v for k, v in given.items() if v is not None}, **decision.inputs}
    return {
        "decision_id": str(uuid.uuid4()),
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
        "detail": decision_detail(decision),
    }


async def record_decision(session: AsyncSession, table: Table, decision: Decision, *, at: datetime, **links: str | None) -> str:
    """Insert the :func:`decision_row` of ``decision`` into ``table`` in the caller's
    transaction; returns the decision id. ``links``: ``diversion_id``, ``ticket_id``,
    ``branch_id``, ``service_type``, ``customer_id`` as in :func:`decision_row`."""
    row = decision_row(decision, at=at, **links)
    await session.execute(table.insert(), row)  # parameters, not .values(): one cached statement
    return row["decision_id"]
