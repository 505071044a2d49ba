"""What the lobby manager and the tellers look at: a branch's queue overview (every
waiting ticket with position, estimate, priority and why it has that priority; the
queues per service type), the counters' states, the devices the read model knows, the
offers in flight and today's figures; and the audited priority raise.

Cost of :func:`overview`: 6 SQL statements, plus one per rule set version that issued a
waiting ticket (usually one), whatever the queue length; positions and estimates are computed in
Python from one ordered read of the waiting tickets, so 100 waiting tickets cost the
same statements as 1 (``count_ahead`` per ticket would cost one statement each).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, time
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads import tickets as tk
from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import conflict, invalid
from counterflow_ticketing.domain import calendar, priority
from counterflow_ticketing.domain import sla as sla_targets
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.domain.queue import _ticket_of_branch, _urgent_before, require_branch, ticket_view, today, wait_forecast
from counterflow_ticketing.domain.waits import counter_pool
from counterflow_ticketing.events.publishers import ticket_transition
from counterflow_ticketing.persistence import branches_repo, lobby_repo, rules_repo, tickets_repo

#: longest reason a lobby manager may give for a priority raise (characters)
MAX_REASON = 500


def day_start(now: datetime, time_zone: str) -> datetime:
    """The aware UTC instant the branch's business day of ``now`` began (local midnight)."""
    return calendar.local_instant(calendar.business_date(now, time_zone), time(0, 0), time_zone)


async def _rule_descriptions(session: AsyncSession, versions: set[int]) -> dict[tuple[int, str], str]:
    out: dict[tuple[int, str], str] = {}
    for v in sorted(versions):
        row = await rules_repo.get_version(session, v)
        for rule in (row.document.get("rules") or []) if row is not None else []:
            out[(v, str(rule.get("id")))] = str(rule.get("description") or "")
    return out


def priority_reason(t: Row, decision: Row | None, raised: Row | None, descriptions: dict[tuple[int, str], str]) -> dict[str, Any]:
    """Why ``t`` has its priority: the customer's tier points, appointment points, the
    channel rule that issued it (id, version, description) and the last raise by hand
    (who, when, reason). ``explanation`` is one English sentence of the same facts."""
    parts: list[str] = []
    tier_points = priority.TIER_PRIORITY.get(t.tier or "", 0)
    if tier_points:
        parts.append(f"tier {t.tier} +{tier_points}")
    if t.appointment_id:
        parts.append(f"appointment +{priority.APPOINTMENT_PRIORITY}")
    rule = None
    if decision is not None and decision.rule_id:
        rule = {
            "rule_id": decision.rule_id,
            "rule_set_version": decision.rule_set_version,
            "description": descriptions.get((decision.rule_set_version, decision.rule_id), ""),
            "explanation": str((decision.detail or {}).get("explanation") or ""),
        }
        parts.append(f"rule {decision.rule_id} (v{decision.rule_set_version})" + (f": {rule['description']}" if rule["description"] else ""))
    raise_view = None
    if raised is not None:
        raise_view = {"from_priority": raised.from_priority, "to_priority": raised.to_priority, "reason": raised.reason, "raised_by": raised.raised_by, "raised_at": raised.raised_at.isoformat()}
        parts.append(f"raised to {raised.to_priority} by {raised.raised_by}: {raised.reason}")
    return {"tier": t.tier, "tier_points": tier_points, "appointment": bool(t.appointment_id), "rule": rule, "raised": raise_view, "explanation": "; ".join(parts) or "walk-in, no priority"}


async def overview(session: AsyncSession, ctx: Ctx, branch_id: str) -> dict[str, Any]:
    """The branch's queue overview for its current business day (shape:
    :class:`~counterflow_ticketing.api.lobby_schemas.QueueOverview`).

    Raises:
        Problem: 404 unknown or inactive branch.
    """
    branch = await require_branch(session, branch_id)
    urgent_before = _urgent_before(ctx, branch)
    day = today(ctx, branch)
    waiting = await lobby_repo.waiting_in_call_order(session, branch_id, day, urgent_before)
    services = {s.service_type: s for s in await branches_repo.get_branch_services(session, branch_id)}
    pool = await counter_pool(session, branch_id, day)
    ids = [t.ticket_id for t in waiting]
    decisions = await lobby_repo.decisions_of(session, ids)
    raises = await lobby_repo.last_raises(session, ids)
    descriptions = await _rule_descriptions(session, {d.rule_set_version for d in decisions.values() if d.rule_set_version})
    ahead_by_skill: dict[str, int] = defaultdict(int)
    rows: list[dict[str, Any]] = []
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in waiting:
        ahead = ahead_by_skill[t.skill]
        ahead_by_skill[t.skill] += 1
        st = services.get(t.service_type)
        view = await ticket_view(session, ctx, t, default_s=st.default_service_s if st else 300.0, branch=branch, pool=pool, ahead=ahead)
        view["customer_id"] = t.customer_id
        view["tier"] = t.tier
        view["skill"] = t.skill
        view["waited_s"] = round((ctx.now - t.issued_at).total_seconds(), 1)
        view["urgent"] = t.queued_at <= urgent_before
        view["priority_reason"] = priority_reason(t, decisions.get(t.ticket_id), raises.get(t.ticket_id), descriptions)
        rows.append(view)
        by_type[t.service_type].append(view)
    queues = []
    for code, st in services.items():
        items = by_type.get(code, [])
        _, newcomer_fc = wait_forecast(ctx, pool, branch_id, skill=st.skill, service_type=code, default_s=st.default_service_s, ahead=ahead_by_skill.get(st.skill, 0), priority=0)
        newcomer = None if newcomer_fc is None else newcomer_fc.p50_s
        queues.append(
            {
                "service_type": code,
                "name": st.name,
                "waiting": len(items),
                "estimated_wait_s": None if newcomer is None else round(newcomer, 1),
                "longest_wait_s": max((i["waited_s"] for i in items), default=0.0),
                "open_counters": len(pool.able(st.skill)),
            }
        )
    return {"branch_id": branch_id, "name": branch.name, "language": branch.language, "at": ctx.now.isoformat(), "queues": queues, "waiting": rows}


async def counter_states(session: AsyncSession, ctx: Ctx, branch_id: str) -> dict[str, Any]:
    """Every active counter of the branch: ``open`` / ``paused`` / ``closed`` and
    ``serving`` (a ticket called or in service), its teller and ticket (with the
    customer's tier and why the ticket has its priority, for the teller)."""
    await require_branch(session, branch_id)
    at_counter = await lobby_repo.tickets_at_counters(session, branch_id)
    ids = [t.ticket_id for t in at_counter.values()]
    decisions = await lobby_repo.decisions_of(session, ids)
    raises = await lobby_repo.last_raises(session, ids)
    descriptions = await _rule_descriptions(session, {d.rule_set_version for d in decisions.values() if d.rule_set_version})
    items = []
    for c in await lobby_repo.counters_with_sessions(session, branch_id):
        t = at_counter.get(c.counter_id)
        state = c.session_status or "closed"
        if state == "open" and t is not None:
            state = "serving"
        ticket = None
        if t is not None:
            ticket = {"ticket_id": t.ticket_id, "number": t.number, "status": t.status, "service_type": t.service_type, "tier": t.tier, "customer_id": t.customer_id, "priority": t.priority, "call_count": t.call_count, "called_at": t.called_at.isoformat() if t.called_at else None, "serving_started_at": t.serving_started_at.isoformat() if t.serving_started_at else None, "priority_reason": priority_reason(t, decisions.get(t.ticket_id), raises.get(t.ticket_id), descriptions)}
        items.append({"counter_id": c.counter_id, "name": c.name, "zone": c.zone, "kind": c.kind, "skills": list(c.skills or []), "state": state, "teller_id": c.session_teller, "session_opened_at": c.session_opened_at.isoformat() if c.session_opened_at else None, "ticket": ticket})
    return {"branch_id": branch_id, "at": ctx.now.isoformat(), "counters": items}


async def lobby_state(session: AsyncSession, ctx: Ctx, branch_id: str) -> dict[str, Any]:
    """Everything on the lobby console: queue overview, counters, devices (ticketing's
    read model of ``selfservice.devices.v1``), today's offers and figures."""
    queue_view = await overview(session, ctx, branch_id)
    counters_view = await counter_states(session, ctx, branch_id)
    branch = await branches_repo.get_branch(session, branch_id)
    since = day_start(ctx.now, branch.time_zone)
    per_type, (default_target_s, _) = await sla_targets.effective_targets(session, ctx, branch_id)
    counts = await lobby_repo.day_counts(session, branch_id, since, {st: t for st, (t, _) in per_type.items()}, default_target_s)
    offers = [
        {"diversion_id": d.diversion_id, "service_type": d.service_type, "channel": d.channel, "device_id": d.device_id, "customer_id": d.customer_id, "rule_id": d.rule_id, "status": d.status, "ticket_id": d.ticket_id, "created_at": d.created_at.isoformat(), "decided_at": d.decided_at.isoformat() if d.decided_at else None, "closed_at": d.closed_at.isoformat() if d.closed_at else None}
        for d in await lobby_repo.diversions_since(session, branch_id, since)
    ]
    devices = [s.model_dump(mode="json") for s in await ctx.readmodels.device_states(branch_id)]
    sla = counts["called_within_target"] / counts["called"] if counts["called"] else None
    today = {**counts, "since": since.isoformat(), "sla_target_s": default_target_s, "sla_share": None if sla is None else round(sla, 4), "offers": len(offers), "offers_accepted": sum(1 for o in offers if o["status"] in ("accepted", "completed")), "offers_completed": sum(1 for o in offers if o["status"] == "completed")}
    return {"overview": queue_view, "counters": counters_view["counters"], "devices": devices, "offers": offers, "today": today}


async def raise_priority(session: AsyncSession, ctx: Ctx, *, staff: StaffPrincipal, branch_id: str, ticket_id: str, to_priority: int, reason: str) -> dict[str, Any]:
    """Raise a waiting ticket's priority to ``to_priority`` (points, at most
    :data:`~counterflow_ticketing.domain.priority.MAX_PRIORITY`) with an audited reason;
    its due time is recomputed from when it was queued, so it moves forward at once.

    Raises:
        Problem: 404 unknown ticket; 409 ``ticket-not-waiting``; 422 ``body.priority``
            not above the current one, ``body.reason`` blank.
    """
    reason = reason.strip()
    if not reason:
        raise invalid("body.reason", "give the reason for the raise (it is audited)")
    t = await _ticket_of_branch(session, ticket_id, branch_id, lock=True)
    if t.status != "waiting":
        raise conflict("ticket-not-waiting", f"ticket {t.number} is {t.status}", current_status=t.status)
    if to_priority <= t.priority:
        raise invalid("body.priority", f"must be above the current priority {t.priority}")
    branch = await require_branch(session, branch_id)
    due = priority.due_at(t.queued_at, to_priority, max_wait_s=branch.max_wait_s, step_s=ctx.settings.priority_step_s)
    row = await tickets_repo.update_ticket(session, ticket_id, {"priority": to_priority, "due_at": min(due, t.due_at)})
    await lobby_repo.insert_raise(session, {"raise_id": str(uuid.uuid4()), "ticket_id": ticket_id, "branch_id": branch_id, "from_priority": t.priority, "to_priority": to_priority, "reason": reason[:MAX_REASON], "raised_by": staff.subject, "role": staff.role, "raised_at": ctx.now})
    view = await ticket_view(session, ctx, row)
    await ctx.publish(session, ticket_transition(tk.TicketPriorityRaised, row, at=ctx.now, view=view, from_priority=t.priority, raised_by_role=staff.role))
    return view


