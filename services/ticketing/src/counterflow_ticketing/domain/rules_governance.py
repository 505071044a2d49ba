"""Governance of channel rule sets: maker-checker approval, activation, rollback, audit.

Life cycle of a version (immutable document, numbered 1, 2, ...)::

    proposed --approve--> approved --activate--> active --(another activated)--> retired
        \\--reject--> rejected                       ^------------rollback-----------/

- A version is proposed by one staff member (``operations`` or ``approver`` role).
- It is approved (and by default activated at once) only by a DIFFERENT staff member with
  the ``approver`` role (maker-checker, the four-eyes principle of banking parameter
  changes). ``admin`` is not an approver here: nobody approves by super-user.
- Activation and rollback publish ``channel.ruleset.activated`` (topic ``channel.rules.v1``,
  compacted, key = scope) through the outbox in the same transaction; every instance of
  ticketing and the mobile gateway picks it up from its read model without restart.
- Every step is an audit row: who, with which role, when, and what changed (the diff
  against the version active at the time).

All functions take the request's session and never commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.rules import RuleSetActivated
from counterflow_shared.rules import RuleSetInvalid, load_document
from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import Problem, conflict, not_found
from counterflow_ticketing.domain.rules_diff import diff_documents
from counterflow_ticketing.persistence import rules_repo

RULE_SET_ID = "channel-rules"
SCOPE = "global"
MAKER_ROLES = ("operations", "approver")
CHECKER_ROLE = "approver"


def invalid_rule_set(exc: RuleSetInvalid, prefix: str = "body.document") -> Problem:
    """422 naming every field (``body.document.rules[3].when.amount.max``) and its rule."""
    errors = [{"field": f"{prefix}.{e.field}" if e.field != "document" else prefix, "rule": e.rule, "message": e.message} for e in exc.errors]
    detail = "; ".join((f"rule {e['rule']}: " if e["rule"] else "") + f"{e['field']}: {e['message']}" for e in errors[:10])
    return Problem(422, "invalid-rule-set", "Rule set is invalid", detail, errors=errors)


def version_view(row: Row, *, with_document: bool = True) -> dict[str, Any]:
    """A version as the API shows it."""
    out = {
        "version": row.version,
        "rule_set_id": row.rule_set_id,
        "scope": row.scope,
        "name": row.name,
        "status": row.status,
        "document_sha256": row.document_sha256,
        "base_version": row.base_version,
        "comment": row.comment,
        "proposed_by": row.proposed_by,
        "proposed_at": row.proposed_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decision_comment": row.decision_comment,
        "activated_at": row.activated_at.isoformat() if row.activated_at else None,
    }
    if with_document:
        out["document"] = row.document
    return out


def content_sha256(document: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON without the stamped ``version``: equal
    content, equal hash (what ``document_sha256`` stores)."""
    content = {k: v for k, v in document.items() if k != "version"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def require_version(session: AsyncSession, version: int, *, lock: bool = False) -> Row:
    """The stored version; 404 when unknown."""
    row = await rules_repo.get_version(session, version, lock=lock)
    if row is None:
        raise not_found("rule set version", version)
    return row


def _require_checker(actor: StaffPrincipal, row: Row, action: str) -> None:
    if actor.role != CHECKER_ROLE:
        raise Problem(403, "approver-required", "Approver role required", f"only staff with the {CHECKER_ROLE} role may {action} a rule set (role: {actor.role})")
    if actor.subject == row.proposed_by:
        raise Problem(403, "maker-checker", "Maker and checker must differ", f"version {row.version} was proposed by {actor.subject}; a different approver must {action} it")


async def propose(session: AsyncSession, *, actor: StaffPrincipal, document: Any, comment: str | None, now: datetime) -> dict[str, Any]:
    """Store ``document`` as a new ``proposed`` version (stamped with its number).

    Raises:
        Problem: 422 ``invalid-rule-set`` naming rule and field; 403 for other roles.
    """
    if actor.role not in MAKER_ROLES and actor.role != "admin":
        raise Problem(403, "forbidden", "Role not allowed", f"role {actor.role} may not propose rule sets")
    try:
        doc = load_document(document)
    except RuleSetInvalid as exc:
        raise invalid_rule_set(exc) from exc
    await rules_repo.lock_governance(session)
    version = await rules_repo.next_version(session)
    doc["version"] = version
    active = await rules_repo.active_version(session)
    await rules_repo.insert_version(
        session,
        {
            "version": version,
            "rule_set_id": RULE_SET_ID,
            "scope": SCOPE,
            "name": doc["name"],
            "document": doc,
            "document_sha256": content_sha256(doc),
            "base_version": active.version if active else None,
            "status": "proposed",
            "comment": comment,
            "proposed_by": actor.subject,
            "proposed_at": now,
        },
    )
    changes = diff_documents(active.document if active else None, doc)
    await rules_repo.add_audit(session, version=version, action="proposed", actor=actor.subject, role=actor.role, at=now, detail={"comment": comment, "against_version": active.version if active else None, "changes": changes})
    return version_view(await require_version(session, version))


async def reject(session: AsyncSession, *, version: int, actor: StaffPrincipal, comment: str | None, now: datetime) -> dict[str, Any]:
    """Reject a proposed version (checker, not the maker).

    Raises:
        Problem: 404; 403 ``approver-required`` / ``maker-checker``; 409 ``rule-set-not-proposed``.
    """
    row = await require_version(session, version, lock=True)
    _require_checker(actor, row, "reject")
    if row.status != "proposed":
        raise conflict("rule-set-not-proposed", f"version {version} is {row.status}, not proposed", current_status=row.status)
    await rules_repo.set_status(session, version, status="rejected", decided_by=actor.subject, decided_at=now, decision_comment=comment)
    await rules_repo.add_audit(session, version=version, action="rejected", actor=actor.subject, role=actor.role, at=now, detail={"comment": comment})
    return version_view(await require_version(session, version))


async def approve(session: AsyncSession, publish: Any, *, version: int, actor: StaffPrincipal, comment: str | None, activate_now: bool, now: datetime) -> dict[str, Any]:
    """Approve a proposed version (checker, not the maker) and, unless ``activate_now`` is
    false, activate it in the same transaction.

    Args:
        publish: ``async (session, *payloads)`` writing events to the outbox.

    Raises:
        Problem: 404; 403 ``approver-required`` / ``maker-checker``; 409 ``rule-set-not-proposed``.
    """
    await rules_repo.lock_governance(session)
    row = await require_version(session, version, lock=True)
    _require_checker(actor, row, "approve")
    if row.status != "proposed":
        raise conflict("rule-set-not-proposed", f"version {version} is {row.status}, not proposed", current_status=row.status)
    await rules_repo.set_status(session, version, status="approved", decided_by=actor.subject, decided_at=now, decision_comment=comment)
    await rules_repo.add_audit(session, version=version, action="approved", actor=actor.subject, role=actor.role, at=now, detail={"comment": comment, "maker": row.proposed_by})
    if activate_now:
        return await activate(session, publish, version=version, actor=actor, now=now)
    return version_view(await require_version(session, version))


async def activate(session: AsyncSession, publish: Any, *, version: int, actor: StaffPrincipal, now: datetime, rollback: bool = False) -> dict[str, Any]:
    """Make ``version`` the active one: the current active version is retired, and
    ``channel.ruleset.activated`` is published in this transaction.

    An ``approved`` version can be activated (by an approver other than its maker); a
    ``retired`` version that was active before can be re-activated only as a rollback.

    Raises:
        Problem: 404; 403 ``approver-required`` / ``maker-checker``; 409 ``rule-set-not-approved``.
    """
    await rules_repo.lock_governance(session)
    row = await require_version(session, version, lock=True)
    if actor.role != CHECKER_ROLE:
        raise Problem(403, "approver-required", "Approver role required", f"only staff with the {CHECKER_ROLE} role may activate a rule set (role: {actor.role})")
    allowed = ("retired",) if rollback else ("approved",)
    if row.status not in allowed or (rollback and row.activated_at is None):
        what = "a version that was active before" if rollback else "an approved version"
        raise conflict("rule-set-not-approved", f"version {version} is {row.status}; only {what} can be {'rolled back to' if rollback else 'activated'}", current_status=row.status)
    if not rollback and actor.subject == row.proposed_by:
        raise Problem(403, "maker-checker", "Maker and checker must differ", f"version {version} was proposed by {actor.subject}")
    previous = await rules_repo.active_version(session)
    if previous is not None:
        await rules_repo.set_status(session, previous.version, status="retired")
    await rules_repo.set_status(session, version, status="active", activated_at=now)
    changes = diff_documents(previous.document if previous else None, row.document)
    await rules_repo.add_audit(
        session,
        version=version,
        action="rolled_back" if rollback else "activated",
        actor=actor.subject,
        role=actor.role,
        at=now,
        detail={"previous_version": previous.version if previous else None, "changes": changes},
    )
    await publish(
        session,
        RuleSetActivated(
            scope=row.scope,
            rule_set_id=row.rule_set_id,
            version=version,
            document=row.document,
            proposed_by=row.proposed_by,
            approved_by=row.decided_by or actor.subject,
            activated_at=now,
            previous_version=previous.version if previous else None,
            rollback=rollback,
        ),
    )
    return version_view(await require_version(session, version))


async def rollback(session: AsyncSession, publish: Any, *, actor: StaffPrincipal, to_version: int | None, now: datetime) -> dict[str, Any]:
    """Re-activate ``to_version`` (default: the version active before the current one).

    Raises:
        Problem: 409 ``nothing-to-roll-back`` when no earlier version was ever active.
    """
    if to_version is None:
        retired = [r for r in await rules_repo.list_versions(session, status="retired") if r.activated_at is not None]
        if not retired:
            raise conflict("nothing-to-roll-back", "no earlier version was ever active")
        to_version = max(retired, key=lambda r: r.activated_at).version
    return await activate(session, publish, version=to_version, actor=actor, now=now, rollback=True)


async def audit_view(session: AsyncSession, version: int | None = None) -> list[dict[str, Any]]:
    """The audit trail (of one version or all), oldest first."""
    return [
        {"version": a.version, "action": a.action, "actor": a.actor, "role": a.role, "at": a.at.isoformat(), "detail": a.detail}
        for a in await rules_repo.audit_trail(session, version)
    ]
