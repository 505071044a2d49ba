"""The ticket life cycle: issue, call next, call a specific ticket, recall, start,
finish, no-show, transfer, cancel, divert. Every transition writes its
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
from counterflow_ticketing.domain.context import Ctx, after_commit, branch_load
from counterflow_ticketing.domain.estimation import updated_mean
from counterflow_ticketing.domain.wait_model import QueueView, WaitForecast, WaitModel
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


async def require_open_counter(session: AsyncSession, counter_id: str, *, allow_paused: bool = False) -> tuple[Row, Row]:
    """The counter and its live teller session, locked so that two calls at one counter
    (a double click, two workstations) run one after the other; 404 unknown counter,
    409 ``counter-not-open``."""
    counter = await branches_repo.get_counter(session, counter_id)
    if counter is None or not counter.active:
        raise not_found("counter", counter_id)
    live = await branches_repo.live_session_of_counter(session, counter_id, lock=True)
    if live is None or (live.status != "open" and not allow_paused):
        raise conflict("counter-not-open", f"counter {counter_id} has no open teller session", counter_id=counter_id)
    return counter, live


async def _ensure_counter_free(session: AsyncSession, counter: Row) -> None:
    busy = await tickets_repo.busy_counters(session, counter.branch_id)
    if counter.counter_id in busy:
        raise conflict("counter-busy", f"counter {counter.counter_id} still has a called or serving ticket; finish, no-show or transfer it first", counter_id=counter.counter_id)


async def _mark_called(session: AsyncSession, ctx: Ctx, t: Row, counter: Row, teller_id: str) -> Row:
    await learn_wait(session, ctx, t)
    row = await tickets_repo.update_ticket(
        session,
        t.ticket_id,
        {"status": "called", "counter_id": counter.counter_id, "teller_id": teller_id, "call_count": 1, "called_at": ctx.now, "target_counter_id": None},
    )
    await ctx.publish(session, ticket_transition(tk.TicketCalled, row, at=ctx.now, counter_name=counter.name))
    _to_display(session, ctx, row, counter, recall=False)
    return row


def _to_display(session: AsyncSession, ctx: Ctx, t: Row, counter: Row, *, recall: bool) -> None:
    fields = {"ticket_id": t.ticket_id, "number": t.number, "counter_id": counter.counter_id, "counter_name": counter.name, "call_count": str(t.call_count), "recall": str(recall).lower(), "at": ctx.now.isoformat()}
    rm, maxlen = ctx.readmodels, ctx.settings.display_stream_length

    async def _send() -> None:
        await rm.add_display_call(t.branch_id, fields, maxlen)

    after_commit(session, _send)


async def call_next(session: AsyncSession, ctx: Ctx, *, counter_id: str, teller_id: str) -> dict[str, Any] | None:
    """Call the first waiting ticket in call order that the counter's skills serve;
    ``None`` when none waits. Atomic: concurrent callers never get the same ticket.

    Raises:
        Problem: 404 counter; 409 ``counter-not-open`` / ``counter-busy``.
    """
    counter, _ = await require_open_counter(session, counter_id)
    await _ensure_counter_free(session, counter)
    branch = await require_branch(session, counter.branch_id)
    t = await tickets_repo.take_next_waiting(
        session,
        counter.branch_id,
        counter.skills or [],
        counter_id,
        _urgent_before(ctx, branch),
        today(ctx, branch),
        own_routes=routing.routes_of(counter),
        served_routes=await routing.live_served_pairs(session, counter.branch_id),
    )
    if t is None:
        return None
    row = await _mark_called(session, ctx, t, counter, teller_id)
    return await ticket_view(session, ctx, row)


async def call_ticket(session: AsyncSession, ctx: Ctx, *, counter_id: str, ticket_id: str, teller_id: str) -> dict[str, Any]:
    """Call one specific waiting ticket at the counter.

    Raises:
        Problem: 404 ticket/counter; 409 ``ticket-taken`` naming the ``counter_id`` that
            took it, 409 ``ticket-not-waiting``, 409 ``skill-mismatch``, 409 counter states.
    """
    counter, _ = await require_open_counter(session, counter_id)
    await _ensure_counter_free(session, counter)
    t = await _ticket_of_branch(session, ticket_id, counter.branch_id, lock=True)
    if t.status in ("called", "serving") and t.counter_id != counter_id:
        raise conflict("ticket-taken", f"ticket {t.number} was already called by counter {t.counter_id}", counter_id=t.counter_id, ticket_id=t.ticket_id)
    if t.status != "waiting":
        raise conflict("ticket-not-waiting", f"ticket {t.number} is {t.status}", current_status=t.status, ticket_id=t.ticket_id)
    if t.skill not in (counter.skills or []):
        raise conflict("skill-mismatch", f"counter {counter_id} lacks skill {t.skill!r} for {t.service_type}", skill=t.skill)
    row = await _mark_called(session, ctx, t, counter, teller_id)
    return await ticket_view(session, ctx, row)


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


async def recall(session: AsyncSession, ctx: Ctx, *, counter_id: str, ticket_id: str) -> dict[str, Any]:
    """Call a called ticket again (``call_count`` + 1)."""
    counter, t = await _ticket_at_counter(session, counter_id, ticket_id, ("called",))
    row = await tickets_repo.update_ticket(session, ticket_id, {"call_count": t.call_count + 1, "called_at": t.called_at})
    await ctx.publish(session, ticket_transition(tk.TicketRecalled, row, at=ctx.now, counter_name=counter.name))
    _to_display(session, ctx, row, counter, recall=True)
    return await ticket_view(session, ctx, row)


async def start_serving(session: AsyncSession, ctx: Ctx, *, counter_id: str, ticket_id: str) -> dict[str, Any]:
    """The customer arrived at the counter: called -> serving."""
    _, t = await _ticket_at_counter(session, counter_id, ticket_id, ("called",))
    row = await tickets_repo.update_ticket(session, ticket_id, {"status": "serving", "serving_started_at": ctx.now})
    await ctx.publish(session, ticket_transition(tk.TicketServingStarted, row, at=ctx.now))
    return await ticket_view(session, ctx, row)


async def finish(session: AsyncSession, ctx: Ctx, *, counter_id: str, ticket_id: str, outcome: str) -> dict[str, Any]:
    """Service finished with ``outcome``: serving -> served; the service time feeds the
    teller's and the service type's learned means."""
    _, t = await _ticket_at_counter(session, counter_id, ticket_id, ("serving",))
    row = await tickets_repo.update_ticket(session, ticket_id, {"status": "served", "finished_at": ctx.now, "outcome": outcome})
    duration = max(0.0, (ctx.now - t.serving_started_at).total_seconds())
    for teller in (t.teller_id or "", "*"):
        await learn_service_time(session, ctx, branch_id=t.branch_id, service_type=t.service_type, teller_id=teller, seconds=duration)
    await ctx.publish(session, ticket_transition(tk.TicketServed, row, at=ctx.now))
    return await ticket_view(session, ctx, row)


async def learn_wait(session: AsyncSession, ctx: Ctx, t: Row) -> None:
    """Fold the wait of ticket ``t``, called now, into its branch's wait model, with the
    queue view stored when it was issued (tickets without one are skipped)."""
    if not t.wait_view:
        return
    try:
        view = QueueView.from_json(t.wait_view)
    except (KeyError, TypeError, ValueError):
        return  # a view of an older shape: nothing to learn from
    model = WaitModel.from_json(await tickets_repo.get_wait_model(session, t.branch_id))
    sla_s = branch_load(ctx, t.branch_id).sla_target_s(t.service_type, ctx.settings.sla_target_s)
    model.learn(view, max(0.0, (ctx.now - t.queued_at).total_seconds()), sla_s)
    await tickets_repo.put_wait_model(session, t.branch_id, model.to_json(), ctx.now)


async def learn_service_time(session: AsyncSession, ctx: Ctx, *, branch_id: str, service_type: str, teller_id: str, seconds: float) -> None:
    """Fold one observed service time (seconds) into the learned mean of ``(service_type, teller_id)``."""
    current = await tickets_repo.get_learned_time(session, branch_id, service_type, teller_id)
    served, mean = (current.served, current.mean_s) if current else (0, seconds)
    sq = current.mean_sq_s if current is not None and current.mean_sq_s is not None else mean * mean
    await tickets_repo.put_learned_time(
        session,
        {
            "branch_id": branch_id,
            "service_type": service_type,
            "teller_id": teller_id,
            "served": served + 1,
            "mean_s": updated_mean(mean, served, seconds),
            "mean_sq_s": updated_mean(sq, served, seconds * seconds),
            "updated_at": ctx.now,
        },
    )


async def no_show(session: AsyncSession, ctx: Ctx, *, counter_id: str, ticket_id: str) -> dict[str, Any]:
    """The customer did not come after the branch's configured number of calls.

    Raises:
        Problem: 409 ``too-few-calls`` before ``no_show_after_calls`` calls.
    """
    _, t = await _ticket_at_counter(session, counter_id, ticket_id, ("called",))
    branch = await require_branch(session, t.branch_id)
    if t.call_count < branch.no_show_after_calls:
        raise conflict("too-few-calls", f"ticket {t.number} was called {t.call_count} time(s); a no-show needs {branch.no_show_after_calls}", call_count=t.call_count, required=branch.no_show_after_calls)
    row = await tickets_repo.update_ticket(session, ticket_id, {"status": "no_show", "finished_at": ctx.now})
    await ctx.publish(session, ticket_transition(tk.TicketNoShow, row, at=ctx.now))
    return await ticket_view(session, ctx, row)


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


