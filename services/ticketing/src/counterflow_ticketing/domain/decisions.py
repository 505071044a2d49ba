"""Reading a channel decision back (issue 17): what the rules engine saw, which rule
decided, every veto and its reason, why each device was not offered, what the customer
was told, and what became of it (the diversion's status)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import not_found
from counterflow_shared.rules.readback import decision_view, find_decision, rule_of
from counterflow_ticketing.persistence import rules_repo, tickets_repo
from counterflow_ticketing.persistence.rules_tables import rule_decisions


async def read_decision(session: AsyncSession, staff: StaffPrincipal, **key: str | None) -> dict[str, Any]:
    """The decision found by one of ``decision_id`` / ``ticket_id`` / ``diversion_id``.

    Raises:
        Problem: 404 ``not-found`` when none; 403 when the staff member may not see its branch.
    """
    row = await find_decision(session, rule_decisions, **key)
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
