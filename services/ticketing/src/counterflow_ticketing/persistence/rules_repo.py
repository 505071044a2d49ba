"""Every SQL statement of channel rule governance: rule set versions, their audit trail,
decision records, and the completion rates of diversions per rule and branch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.rules_tables import rule_decisions, rule_set_audit, rule_set_versions
from counterflow_ticketing.persistence.tables import diversions

#: pg_advisory_xact_lock key serialising version numbering and activation (any constant;
#: this is "rules" in ASCII).
_GOVERNANCE_LOCK = 0x72756C6573


async def lock_governance(session: AsyncSession) -> None:
    """Serialise governance writes (numbering, activation) until the transaction ends."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _GOVERNANCE_LOCK})


async def next_version(session: AsyncSession) -> int:
    """The next version number (1 for the first); call after :func:`lock_governance`."""
    current = (await session.execute(select(func.max(rule_set_versions.c.version)))).scalar()
    return (current or 0) + 1


async def insert_version(session: AsyncSession, row: dict[str, Any]) -> None:
    """Store a new version (its document is immutable from now on)."""
    await session.execute(rule_set_versions.insert().values(**row))


async def get_version(session: AsyncSession, version: int, *, lock: bool = False) -> Row | None:
    """One version or ``None``; ``lock`` takes a row lock until the transaction ends."""
    stmt = select(rule_set_versions).where(rule_set_versions.c.version == version)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def list_versions(session: AsyncSession, *, status: str | None = None) -> Sequence[Row]:
    """Every version, newest first (without documents), optionally of one ``status``."""
    cols = [c for c in rule_set_versions.c if c.name != "document"]
    stmt = select(*cols).order_by(rule_set_versions.c.version.desc())
    if status:
        stmt = stmt.where(rule_set_versions.c.status == status)
    return (await session.execute(stmt)).all()


async def versions_with_content(session: AsyncSession, sha256: str) -> Sequence[Row]:
    """Versions whose document content hash is ``sha256`` (without documents), newest first."""
    cols = [c for c in rule_set_versions.c if c.name != "document"]
    return (await session.execute(select(*cols).where(rule_set_versions.c.document_sha256 == sha256).order_by(rule_set_versions.c.version.desc()))).all()


async def active_version(session: AsyncSession) -> Row | None:
    """The version whose status is ``active`` (at most one), or ``None``."""
    return (await session.execute(select(rule_set_versions).where(rule_set_versions.c.status == "active"))).first()


async def set_status(session: AsyncSession, version: int, **values: Any) -> None:
    """Move a version's life-cycle columns (``status``, ``decided_by``, ``activated_at``...)."""
    await session.execute(update(rule_set_versions).where(rule_set_versions.c.version == version).values(**values))


async def add_audit(session: AsyncSession, *, version: int, action: str, actor: str, role: str, at: datetime, detail: dict[str, Any]) -> None:
    """Append one audit entry."""
    await session.execute(rule_set_audit.insert().values(version=version, action=action, actor=actor, role=role, at=at, detail=detail))


async def audit_trail(session: AsyncSession, version: int | None = None) -> Sequence[Row]:
    """Audit entries in order, of one version or of all."""
    stmt = select(rule_set_audit).order_by(rule_set_audit.c.id)
    if version is not None:
        stmt = stmt.where(rule_set_audit.c.version == version)
    return (await session.execute(stmt)).all()


async def decision_inputs(session: AsyncSession, *, since: datetime, until: datetime, branch_id: str | None = None, limit: int = 100_000) -> list[dict[str, Any]]:
    """Recorded inputs of decisions in ``[since, until)``, oldest first (the what-if window)."""
    stmt = select(rule_decisions.c.inputs).where(rule_decisions.c.decided_at >= since, rule_decisions.c.decided_at < until)
    if branch_id:
        stmt = stmt.where(rule_decisions.c.branch_id == branch_id)
    stmt = stmt.order_by(rule_decisions.c.decided_at, rule_decisions.c.decision_id).limit(limit)
    return [r.inputs for r in (await session.execute(stmt)).all()]


async def decision_records(session: AsyncSession, *, since: datetime, until: datetime, branch_id: str | None = None, limit: int = 100_000) -> list[dict[str, Any]]:
    """Decision records of ``[since, until)``, oldest first, for export: the recorded
    inputs (what-if traffic) plus ``decision``: ``decision_id``, ``decided_at``, ``kind``,
    ``channel``, ``device_id``, ``rule_set_version``, ``rule_id``, ``ticket_id``,
    ``diversion_id`` and the stored ``detail`` (vetoes, devices not offered)."""
    c = rule_decisions.c
    stmt = select(rule_decisions).where(c.decided_at >= since, c.decided_at < until)
    if branch_id:
        stmt = stmt.where(c.branch_id == branch_id)
    stmt = stmt.order_by(c.decided_at, c.decision_id).limit(limit)
    out = []
    for r in (await session.execute(stmt)).all():
        decision = {k: getattr(r, k) for k in ("decision_id", "kind", "channel", "device_id", "rule_set_version", "rule_id", "ticket_id", "diversion_id")}
        decision["decided_at"] = r.decided_at.isoformat()
        decision.update(r.detail or {})
        out.append({**r.inputs, "decision": decision})
    return out


async def diversion_counts(session: AsyncSession, *, since: datetime, until: datetime, branch_id: str | None = None) -> Sequence[Row]:
    """Diversion offers made in ``[since, until)`` counted per (rule set version, rule,
    branch, status) from the ticketing ``diversions`` records."""
    d = diversions.c
    stmt = (
        select(d.rule_set_version, d.rule_id, d.branch_id, d.status, func.count().label("n"))
        .where(d.created_at >= since, d.created_at < until)
        .group_by(d.rule_set_version, d.rule_id, d.branch_id, d.status)
        .order_by(d.rule_id, d.branch_id, d.rule_set_version, d.status)
    )
    if branch_id:
        stmt = stmt.where(d.branch_id == branch_id)
    return (await session.execute(stmt)).all()
