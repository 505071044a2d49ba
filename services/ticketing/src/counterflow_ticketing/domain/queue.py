"""The ticket life cycle: issue, transfer, cancel, divert (the teller's call next, call,
recall, start, finish and no-show are :mod:`counterflow_ticketing.domain.teller_actions`). Every transition writes its
``branch.tickets.v1`` event in the caller's transaction (transactional outbox); calls
also go to the calling display after commit.

Errors are :class:`~counterflow_shared.web.problems.Problem` (404 unknown, 409 state
conflicts naming what conflicts, 422 bad input); nothing is written when one is raised
because the caller's transaction rolls back.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads import tickets as tk
from counterflow_shared.web.problems import conflict, invalid, not_found
from counterflow_ticketing.domain import calendar, priority, routing
from counterflow_ticketing.domain.catalog import format_number
from counterflow_ticketing.domain.context import Ctx, branch_load
from counterflow_ticketing.domain.wait_model import QueueView, WaitForecast
from counterflow_ticketing.domain.waits import CounterPool, counter_pool, forecast
from counterflow_ticketing.events.publishers import ticket_transition
from counterflow_ticketing.persistence import branches_repo, tickets_repo

LIVE = ("waiting", "called", "serving")


async def require_branch(session: AsyncSession, branch_id: str) -> Row:
    """The active branch ``branch_id``; 404 when unknown or inactive."""
    branch = await branches_repo.get_branch(session, branch_id)
    if branch is None or not branch.active:
        raise not_found("branch", branch_id)
    return branch


async def offered_service(session: AsyncSession, branch_id: str, service_type: str, field: str = "body.service_type") -> Row:
    """The catalog row of ``service_type`` if the branch offers it; 422 naming ``field`` otherwise."""
    for row in await branches_repo.get_branch_services(session, branch_id):
        if row.service_type == service_type:
            return row
    raise invalid(field, f"branch {branch_id} does not offer service type {service_type!r}")


async def branch_offering(session: AsyncSession, branch_id: str, service_type: str, field: str = "body.service_type") -> tuple[Any, Any]:
    """The active branch and the catalog row of ``service_type`` it offers (one query).

    Raises:
        Problem: 404 unknown or inactive branch; 422 naming ``field`` when not offered.
    """
    branch, st = await branches_repo.branch_and_service(session, branch_id, service_type)
    if branch is None or not branch.active:
        raise not_found("branch", branch_id)
    if st is None:
        raise invalid(field, f"branch {branch_id} does not offer service type {service_type!r}")
    return branch, st


async def ticket_view(
    session: AsyncSession,
    ctx: Ctx,
    t: Row,
    *,
    default_s: float | None = None,
    branch: Row | None = None,
    pool: CounterPool | None = None,
    ahead: int | None = None,
    estimate: tuple[QueueView, WaitForecast | None] | None = None,
) -> dict[str, Any]:
    """A ticket as kiosks and apps see it: number, status, priority, 1-based ``position``
    and, while waiting, the wait forecast (:mod:`wait_model`): ``estimated_wait_s`` (the
    median), the 80 % interval ``estimated_wait_p10_s`` / ``estimated_wait_p90_s`` and
    ``p_called_within_sla`` (probability of being called within the SLA target); seconds,
    ``None`` = unknown. ``branch``, ``default_s``, ``pool``, ``ahead`` and ``estimate``
    spare queries and work when the caller already has them."""
    position = fc = None
    if t.status == "waiting":
        if ahead is None:
            branch = branch or await branches_repo.get_branch(session, t.branch_id)
            ahead = await tickets_repo.count_ahead(session, t, _urgent_before(ctx, branch))
        position = ahead + 1
        if estimate is None:
            if default_s is None:
                st = await branches_repo.get_service_type(session, t.service_type)
                default_s = st.default_service_s if st else 300.0
            pool = pool or await counter_pool(session, t.branch_id, t.business_date)
            estimate = wait_forecast(ctx, pool, t.branch_id, skill=t.skill, service_type=t.service_type, default_s=default_s, ahead=ahead, priority=t.priority)
        fc = estimate[1]
    return ticket_fields(t, position=position, forecast=fc)


def ticket_fields(t: Any, *, position: int | None, forecast: WaitForecast | None) -> dict[str, Any]:
    """The :func:`ticket_view` document of ticket ``t`` (a row or any object with its
    columns) with a known ``position`` (1-based) and wait ``forecast`` (``None``: unknown
    or not waiting)."""
    fc = forecast
    return {
        "ticket_id": t.ticket_id,
        "branch_id": t.branch_id,
        "number": t.number,
        "service_type": t.service_type,
        "status": t.status,
        "origin": t.origin,
        "priority": t.priority,
        "business_date": t.business_date.isoformat(),
        "issued_at": t.issued_at.isoformat(),
        "position": position,
        "estimated_wait_s": None if fc is None else round(fc.p50_s, 1),
        "estimated_wait_p10_s": None if fc is None else round(fc.p10_s, 1),
        "estimated_wait_p90_s": None if fc is None else round(fc.p90_s, 1),
        "p_called_within_sla": None if fc is None else round(fc.p_within_sla, 3),
        "counter_id": t.counter_id,
        "call_count": t.call_count,
        "outcome": t.outcome,
        "route_to": t.route_to,
        "route_fallback": t.route_fallback,
    }


def wait_forecast(ctx: Ctx, pool: CounterPool, branch_id: str, *, skill: str, service_type: str, default_s: float, ahead: int, priority: int) -> tuple[QueueView, WaitForecast | None]:
    """:func:`waits.forecast` with the branch's last measured leaving and overtaking
    rates and the branch's SLA target of ``service_type`` (:class:`BranchLoad`, the
    service setting when the branch has none)."""
    load = branch_load(ctx, branch_id)
    return forecast(
        pool,
        now=ctx.now,
        skill=skill,
        service_type=service_type,
        default_s=default_s,
        ahead=ahead,
        priority=priority,
        abandon_rate_per_s=load.abandon_rate,
        overtake_rate_per_s=load.overtake_rate,
        sla_s=load.sla_target_s(service_type, ctx.settings.sla_target_s),
    )


def today(ctx: Ctx, branch: Row) -> date:
    """The branch's current business day: the local date of ``ctx.now`` in its time zone.
    Queues, estimates and call-next see only tickets of this day."""
    return calendar.business_date(ctx.now, branch.time_zone)


def _urgent_before(ctx: Ctx, branch: Row) -> datetime:
    return priority.urgent_before(ctx.now, max_wait_s=branch.max_wait_s, guard_s=ctx.settings.ageing_guard_s)


def abandon_rate(ctx: Ctx, branch_id: str) -> float:
    """Leaving rate of a waiting customer (1/s) last measured by the load loop (0 before)."""
    return branch_load(ctx, branch_id).abandon_rate


async def issue_ticket(
    session: AsyncSession,
    ctx: Ctx,
    *,
    branch_id: str,
    service_type: str,
    origin: str = tk.TicketOrigin.WALK_IN,
    customer_id: str | None = None,
    tier: str | None = None,
    priority_boost: int = 0,
    appointment_id: str | None = None,
    remote_request_id: str | None = None,
    diversion_id: str | None = None,
    route_to: str | None = None,
    known: tuple[Row, Row] | None = None,
    pool: CounterPool | None = None,
) -> dict[str, Any]:
    """Issue a ticket now; returns :func:`ticket_view` of it. ``known`` is the caller's
    already checked ``(branch, service type)`` rows and ``pool`` its counter pool.

    ``route_to`` (a channel rule's ``vip_room`` / ``relationship_manager`` /
    ``wealth_desk``) binds the ticket to the counters that take the route
    (:mod:`routing`); when no live counter of the branch takes it now, the ticket joins
    the normal queue (``route_fallback`` true in the view).

    The number is ``prefix + sequence`` of the branch-local business day
    (:func:`calendar.business_date`); the priority comes from the tier, an appointment
    and the rules' boost (:mod:`priority`).

    Raises:
        Problem: 404 unknown branch; 422 service type not offered.
    """
    if known is None:
        branch, st = await branch_offering(session, branch_id, service_type)
    else:
        branch, st = known
    day = today(ctx, branch)
    fallback = route_to is not None and not await routing.can_route(session, branch_id, route_to, st.skill)
    points = priority.priority_of(tier=tier, appointment=appointment_id is not None, boost=priority_boost)
    ahead = estimate = None
    if pool is not None and points == 0 and not diversion_id and route_to is None:
        # A priority-0 ticket queued now has the latest due date: every waiting ticket of
        # its skill (read in this transaction a moment ago) is ahead of it.
        ahead = pool.waiting_by_skill.get(st.skill, 0)
        estimate = wait_forecast(ctx, pool, branch_id, skill=st.skill, service_type=service_type, default_s=st.default_service_s, ahead=ahead, priority=points)
    sequence = await tickets_repo.next_sequence(session, branch_id, day, st.prefix)
    ticket_id = str(uuid.uuid4())
    t = await tickets_repo.insert_ticket(
        session,
        {
            "ticket_id": ticket_id,
            "branch_id": branch_id,
            "business_date": day,
            "prefix": st.prefix,
            "sequence": sequence,
            "number": format_number(st.prefix, sequence),
            "service_type": service_type,
            "skill": st.skill,
            "status": "waiting",
            "origin": str(origin),
            "priority": points,
            "customer_id": customer_id,
            "tier": tier,
            "issued_at": ctx.now,
            "queued_at": ctx.now,
            "due_at": priority.due_at(ctx.now, points, max_wait_s=branch.max_wait_s, step_s=ctx.settings.priority_step_s),
            "remote_request_id": remote_request_id,
            "appointment_id": appointment_id,
            "diversion_id": diversion_id,
            "route_to": route_to,
            "route_fallback": fallback,
            "wait_view": None if estimate is None else estimate[0].to_json(),
        },
    )
    if estimate is None:
        # other tickets (priority, routed, declined offers) count their place in line first
        if ahead is None:
            ahead = await tickets_repo.count_ahead(session, t, _urgent_before(ctx, branch))
        pool = pool or await counter_pool(session, branch_id, day)
        estimate = wait_forecast(ctx, pool, branch_id, skill=st.skill, service_type=service_type, default_s=st.default_service_s, ahead=ahead, priority=points)
        t = await tickets_repo.update_ticket(session, ticket_id, {"wait_view": estimate[0].to_json()})
    view = await ticket_view(session, ctx, t, default_s=st.default_service_s, branch=branch, pool=pool, ahead=ahead, estimate=estimate)
    await ctx.publish(session, ticket_transition(tk.TicketIssued, t, at=ctx.now, view=view))
    return view


async def _ticket_of_branch(session: AsyncSession, ticket_id: str, branch_id: str, *, lock: bool) -> Row:
    t = await tickets_repo.get_ticket(session, ticket_id, lock=lock)
    if t is None or t.branch_id != branch_id:
        raise not_found("ticket", ticket_id)
    return t


async def _ticket_at_counter(session: AsyncSession, counter_id: str, ticket_id: str, statuses: tuple[str, ...]) -> tuple[Row, Row]:
    counter = await branches_repo.get_counter(session, counter_id)
    if counter is None:
        raise not_found("counter", counter_id)
    t = await _ticket_of_branch(session, ticket_id, counter.branch_id, lock=True)
    if t.counter_id != counter_id or t.status not in statuses:
        raise conflict("ticket-not-at-counter", f"ticket {t.number} is {t.status} at counter {t.counter_id or '-'}, expected {'/'.join(statuses)} at {counter_id}", current_status=t.status, counter_id=t.counter_id)
    return counter, t


async def transfer(
    session: AsyncSession, ctx: Ctx, *, ticket_id: str, branch_id: str, service_type: str | None, to_counter_id: str | None, front: bool, from_counter_id: str | None = None
) -> dict[str, Any]:
    """Move a ticket to another service type's queue and/or a specific counter's queue,
    at the back (queued now, its priority kept) or at the front (ahead of every waiting
    ticket of that skill, urgent ones too: its ``queued_at`` and ``due_at`` are put just
    before the head's). The ticket keeps its number.

    Raises:
        Problem: 404; 409 ``ticket-not-at-counter``/``ticket-not-live``; 422 naming
            ``body.service_type`` or ``body.counter_id``.
    """
    if service_type is None and to_counter_id is None:
        raise invalid("body", "give service_type, counter_id or both")
    if from_counter_id is not None:
        _, t = await _ticket_at_counter(session, from_counter_id, ticket_id, ("called", "serving"))
    else:
        t = await _ticket_of_branch(session, ticket_id, branch_id, lock=True)
        if t.status not in LIVE:
            raise conflict("ticket-not-live", f"ticket {t.number} is {t.status}", current_status=t.status)
    branch = await require_branch(session, t.branch_id)
    st = await offered_service(session, t.branch_id, service_type or t.service_type)
    if to_counter_id is not None:
        target = await branches_repo.get_counter(session, to_counter_id)
        if target is None or target.branch_id != t.branch_id:
            raise invalid("body.counter_id", f"no counter {to_counter_id!r} in branch {t.branch_id}")
        if st.skill not in (target.skills or []):
            raise invalid("body.counter_id", f"counter {to_counter_id} lacks skill {st.skill!r}")
    queued_at = ctx.now
    if front:
        # before the head on both keys of the call order: an urgent (aged) ticket is
        # called by its queued_at, the others by due_at, so the front is the front (#17)
        head_due, head_queued = await tickets_repo.front_of_queue(session, t.branch_id, st.skill, t.business_date)
        due = min(head_due, ctx.now) - timedelta(milliseconds=1) if head_due else ctx.now - timedelta(seconds=1)
        if head_queued is not None:
            queued_at = min(head_queued, ctx.now) - timedelta(milliseconds=1)
    else:
        due = priority.due_at(ctx.now, t.priority, max_wait_s=branch.max_wait_s, step_s=ctx.settings.priority_step_s)
    row = await tickets_repo.update_ticket(
        session,
        ticket_id,
        {"status": "waiting", "service_type": st.service_type, "skill": st.skill, "queued_at": queued_at, "due_at": due, "target_counter_id": to_counter_id, "wait_view": None, "counter_id": None, "called_at": None, "serving_started_at": None, "call_count": 0},
    )
    held = from_counter_id is not None or t.status in ("called", "serving")
    await tickets_repo.record_transfer(session, ticket_id=ticket_id, branch_id=t.branch_id, counter_id=t.counter_id if held else None, teller_id=t.teller_id if held else None, at=ctx.now)
    view = await ticket_view(session, ctx, row, default_s=st.default_service_s)
    await ctx.publish(session, ticket_transition(tk.TicketTransferred, row, at=ctx.now, view=view))
    return view


async def cancel(session: AsyncSession, ctx: Ctx, *, ticket_id: str, branch_id: str | None = None) -> dict[str, Any]:
    """Cancel a waiting or called ticket (its number is never reused).

    Raises:
        Problem: 404; 409 ``ticket-not-cancellable`` once serving or finished.
    """
    t = await tickets_repo.get_ticket(session, ticket_id, lock=True)
    if t is None or (branch_id is not None and t.branch_id != branch_id):
        raise not_found("ticket", ticket_id)
    if t.status not in ("waiting", "called"):
        raise conflict("ticket-not-cancellable", f"ticket {t.number} is {t.status}", current_status=t.status)
    row = await tickets_repo.update_ticket(session, ticket_id, {"status": "cancelled", "finished_at": ctx.now})
    await ctx.publish(session, ticket_transition(tk.TicketCancelled, row, at=ctx.now))
    return await ticket_view(session, ctx, row)


async def divert(session: AsyncSession, ctx: Ctx, *, ticket_id: str, branch_id: str, diversion_id: str | None = None) -> dict[str, Any]:
    """The holder of a waiting ticket took another channel: waiting -> diverted."""
    t = await _ticket_of_branch(session, ticket_id, branch_id, lock=True)
    if t.status != "waiting":
        raise conflict("ticket-not-waiting", f"ticket {t.number} is {t.status}", current_status=t.status)
    row = await tickets_repo.update_ticket(session, ticket_id, {"status": "diverted", "finished_at": ctx.now, "diversion_id": diversion_id or t.diversion_id})
    await ctx.publish(session, ticket_transition(tk.TicketDiverted, row, at=ctx.now))
    return await ticket_view(session, ctx, row)


