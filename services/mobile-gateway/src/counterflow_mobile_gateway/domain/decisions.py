"""Reading an app decision back (issue 17): the shared view of a ``rule_decisions`` row
(:mod:`counterflow_shared.rules.readback`), with the rule as written when the deciding
version is the active one (the gateway keeps only the active rule set; ticketing's
``/v1/rules`` history has every version) and the offer's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules.readback import decision_view, find_decision, rule_of
from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import not_found
from counterflow_mobile_gateway.domain.channel import active_rules_of
from counterflow_mobile_gateway.persistence.tables import app_offers, rule_decisions

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


async def read_decision(session: AsyncSession, runtime: "ServiceRuntime", staff: StaffPrincipal, **key: str | None) -> dict[str, Any]:
    """The decision found by one of ``decision_id`` / ``ticket_id`` (the remote request
    id) / ``diversion_id``. ``rule`` is ``None`` when its version is no longer active.

    Raises:
        Problem: 404 when none; 403 when the staff member may not see its branch.
    """
    row = await find_decision(session, rule_decisions, **key)
    if row is None:
        name, value = next((k, v) for k, v in key.items() if v is not None)
        raise not_found("decision", f"{'request_id' if name == 'ticket_id' else name}={value}")
    staff.require_branch(row.branch_id)
    active = await active_rules_of(runtime).current()
    document = active.document if active is not None and active.version == row.rule_set_version else None
    outcome = None
    if row.diversion_id:
        outcome = (await session.execute(select(app_offers.c.status).where(app_offers.c.diversion_id == row.diversion_id))).scalar_one_or_none()
    return decision_view(row, rule_of(document, row.rule_id, row.branch_id), outcome)
