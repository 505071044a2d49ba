"""What-if for approvers: a stored (usually proposed) rule set version against the active
one over recorded traffic (inline records, or the decision records of a time window).
The model and its assumptions: :mod:`counterflow_shared.rules.whatif`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules import load_rule_set
from counterflow_shared.rules.whatif import Assumptions, TrafficInvalid, parse_traffic, what_if
from counterflow_shared.web.problems import invalid
from counterflow_ticketing.domain.rules_governance import require_version
from counterflow_ticketing.persistence import rules_repo


async def what_if_for_version(
    session: AsyncSession,
    *,
    version: int,
    against: int | None,
    records: list[dict[str, Any]] | None,
    since: datetime | None,
    until: datetime | None,
    branch_id: str | None,
    assumptions: Assumptions,
) -> dict[str, Any]:
    """The side-by-side report of ``version`` against ``against`` (default: the active
    version; none active = everyone gets a ticket).

    Raises:
        Problem: 404 unknown version; 422 naming ``body.records[i].<field>`` or the window fields.
    """
    proposed_row = await require_version(session, version)
    if against is not None:
        active_row = await require_version(session, against)
    else:
        active_row = await rules_repo.active_version(session)
    if records is None:
        if since is None or until is None:
            raise invalid("body.since", "give either records or a window (since and until)")
        if until <= since:
            raise invalid("body.until", "must be after since")
        records = await rules_repo.decision_inputs(session, since=since, until=until, branch_id=branch_id)
    try:
        traffic = parse_traffic(records)
    except TrafficInvalid as exc:
        raise invalid(f"body.records[{exc.line - 1}].{exc.field}", exc.message) from exc
    proposed = load_rule_set(proposed_row.document, version=proposed_row.version)
    active = load_rule_set(active_row.document, version=active_row.version) if active_row is not None else None
    report = what_if(proposed, active, traffic, assumptions)
    report["window"]["source"] = "records" if since is None else "decision records"
    return report
