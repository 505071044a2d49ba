"""A customer asks for a service: the channel-rules hook, then a ticket or an offer.

At request time the live state is gathered into a
:class:`~counterflow_shared.rules.DecisionInput` (tier and propensity from the
customer-scores read model, the counter wait estimate, the branch's self-service
devices, branch-local time and day type, the SLA share) and
:func:`~counterflow_shared.rules.decide` is called with the active rule set from the
``channel.rules.v1`` read model (:func:`~counterflow_ticketing.domain.context.active_rules_of`,
``None`` when none was activated). Kiosk requests without an appointment take the
one-transaction path of :mod:`counterflow_ticketing.domain.kiosk_request`. A ``ticket``
decision issues a ticket (with the rule's priority boost); an ``offer`` is recorded and
published as ``channel.diversion.offered``. Accept / decline publish their own events;
a decline issues the ticket, an accept records the ticket-less visit as diverted.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads import diversions as dv
from counterflow_shared.events.payloads.tickets import TicketOrigin
from counterflow_shared.rules import Decision, DecisionInput, DeviceView, decide
from counterflow_ticketing.domain import rules_outcomes
from counterflow_shared.web.problems import conflict, not_found
from counterflow_ticketing.domain import calendar, queue
from counterflow_ticketing.domain.context import Ctx, active_rules_of, remember_branch_load
from counterflow_ticketing.domain.waits import CounterPool, counter_pool, forecast
from counterflow_shared.events.payloads.diversions import diversion_step
from counterflow_ticketing.persistence import tickets_repo
from counterflow_ticketing.persistence.readmodels import BranchLoad

#: An appointment may be checked in from this long before its start until its end.
CHECK_IN_EARLY = timedelta(minutes=30)


def offer_view(d: Row) -> dict[str, Any]:
    """A diversion offer as the kiosk shows it, with the rule's terms as the app shows
    them: ``fee_notice``, ``message``, ``offer_ttl_s`` (seconds an accepted hand-off stays
    open; ``None``: the service default) and, once accepted, ``expires_at``."""
    return {
        "diversion_id": d.diversion_id,
        "status": d.status,
        "service_type": d.service_type,
        "channel": d.channel,
        "device_id": d.device_id,
        "amount": None if d.amount is None else format(Decimal(d.amount).normalize(), "f"),
        "currency": d.currency,
        "rule_set_version": d.rule_set_version,
        "rule_id": d.rule_id,
        "ticket_id": d.ticket_id,
        "fee_notice": d.fee_notice,
        "message": d.message,
        "offer_ttl_s": d.offer_ttl_s,
        "expires_at": d.expires_at.isoformat() if getattr(d, "expires_at", None) else None,  # a new offer (not yet a row) has none
    }


async def decision_input(
    session: AsyncSession,
    ctx: Ctx,
    branch: Row,
    st: Row,
    request: dict[str, Any],
    tier: str | None,
    propensity: dict[str, float],
    pool: CounterPool,
    devices: tuple[DeviceView, ...],
    load: BranchLoad,
) -> DecisionInput:
    """The rules engine's view of ``request`` at ``ctx.now`` in ``branch`` with the
    branch's last measured ``load`` (abandonment and overtaking rates, SLA share); the
    counter wait is the wait forecast of a priority-0 ticket issued now (median, P90 and
    probability of being called within the branch's SLA target of the service type)."""
    _, fc = forecast(
        pool,
        now=ctx.now,
        skill=st.skill,
        service_type=st.service_type,
        default_s=st.default_service_s,
        ahead=pool.waiting_by_skill.get(st.skill, 0),
        priority=0,
        abandon_rate_per_s=load.abandon_rate,
        overtake_rate_per_s=load.overtake_rate,
        sla_s=load.sla_target_s(st.service_type, ctx.settings.sla_target_s),
    )
    day = calendar.business_date(ctx.now, branch.time_zone)
    amount = request.get("amount")
    return DecisionInput(
        branch_id=branch.branch_id,
        service_type=st.service_type,
        now=ctx.now,
        amount=None if amount is None else Decimal(str(amount)),
        currency=request.get("currency"),
        customer_id=request.get("customer_id"),
        tier=tier,
        propensity=propensity,
        needs=frozenset(request.get("needs") or ()),
        counter_wait_s=None if fc is None else fc.p50_s,
        counter_wait_p90_s=None if fc is None else fc.p90_s,
        p_called_within_sla=None if fc is None else fc.p_within_sla,
        devices=devices,
        local_time=calendar.local_clock(ctx.now, branch.time_zone),
        day_type=calendar.day_type(day, [date.fromisoformat(d) for d in branch.closed_days]),
        zone=st.zone,
        sla_share=load.sla_share,
        channel_of_request="kiosk",
    )


async def request_service(session: AsyncSession, ctx: Ctx, *, branch_id: str, kiosk_id: str | None, request: dict[str, Any]) -> dict[str, Any]:
    """Handle a kiosk service request; returns ``{"kind": "ticket", "ticket": ...}`` or
    ``{"kind": "offer", "offer": ...}``.

    ``request``: ``service_type``, optional ``customer_id``, ``appointment_id``,
    ``amount`` (Decimal major units) + ``currency``, ``needs``.

    Raises:
        Problem: 404 branch/appointment; 409 ``appointment-not-due``; 422 naming the field.
    """
    branch, st = await queue.branch_offering(session, branch_id, request["service_type"])
    customer_id = request.get("customer_id")
    # One Redis round trip; it also checks that no read model was lost (and waits for
    # its rebuild), so no decision is taken from empty state.
    red = await ctx.readmodels.kiosk_state(kiosk_id=None, minute=0, branch_id=branch_id, customer_id=customer_id, rules=active_rules_of(ctx.runtime))
    tier, propensity = red.tier, red.propensity
    if request.get("appointment_id"):
        return {"kind": "ticket", "ticket": await check_in(session, ctx, branch=branch, appointment_id=request["appointment_id"], customer_id=customer_id, tier=tier)}
    rule_set, devices, load = await red.rule_set(), red.devices, red.load
    remember_branch_load(ctx, branch_id, load)
    pool = await counter_pool(session, branch_id, queue.today(ctx, branch))
    decision: Decision = decide(rule_set, await decision_input(session, ctx, branch, st, request, tier, propensity, pool, devices, load))
    if decision.kind == "offer":
        offer = await record_offer(session, ctx, branch_id=branch_id, kiosk_id=kiosk_id, request=request, decision=decision)
        await rules_outcomes.record_decision(session, decision, at=ctx.now, diversion_id=offer["diversion_id"], branch_id=branch_id, service_type=st.service_type, customer_id=customer_id)
        return {"kind": "offer", "offer": offer}
    ticket = await queue.issue_ticket(
        session,
        ctx,
        branch_id=branch_id,
        service_type=st.service_type,
        customer_id=customer_id,
        tier=tier,
        priority_boost=decision.priority_boost,
        route_to=decision.route_to,
        known=(branch, st),
        pool=pool,
    )
    await rules_outcomes.record_decision(session, decision, at=ctx.now, ticket_id=ticket["ticket_id"], branch_id=branch_id, service_type=st.service_type, customer_id=customer_id)
    explanation = decision.explanation
    if ticket["route_fallback"]:
        explanation = f"{explanation}; no open counter takes {decision.route_to}: normal queue with priority boost {decision.priority_boost}".lstrip("; ")
    return {
        "kind": "ticket",
        "ticket": ticket,
        "rule_id": decision.rule_id,
        "rule_set_version": decision.rule_set_version,
        "fee_notice": decision.fee_notice,
        "route_to": decision.route_to,
        "route_fallback": ticket["route_fallback"],
        "explanation": explanation,
    }


async def check_in(session: AsyncSession, ctx: Ctx, *, branch: Row, appointment_id: str, customer_id: str | None, tier: str | None) -> dict[str, Any]:
    """Check in an appointment booked in the app: a ticket with appointment priority.

    Only an appointment of the branch's current business day counts: one starting on
    another local date (e.g. 00:10 tomorrow, inside the 30-minute early window at 23:50)
    is not due, because its ticket would belong to a day that is closing.

    Raises:
        Problem: 404 unknown appointment (or of another branch/customer); 409
            ``appointment-not-due`` outside [start - 30 min, end] or on another business
            day; 409 ``appointment-checked-in`` when already checked in.
    """
    branch_id = branch.branch_id
    a = await tickets_repo.get_appointment(session, appointment_id, lock=True)
    if a is None or a.branch_id != branch_id or (customer_id and a.customer_id != customer_id) or a.status == "cancelled":
        raise not_found("appointment", appointment_id)
    if a.checked_in_ticket_id:
        raise conflict("appointment-checked-in", f"appointment {appointment_id} was already checked in", ticket_id=a.checked_in_ticket_id)
    if calendar.business_date(a.starts_at, branch.time_zone) != queue.today(ctx, branch):
        raise conflict("appointment-not-due", f"appointment {appointment_id} is on business day {calendar.business_date(a.starts_at, branch.time_zone).isoformat()}, not today ({queue.today(ctx, branch).isoformat()})")
    if not (a.starts_at - CHECK_IN_EARLY <= ctx.now <= a.ends_at):
        raise conflict("appointment-not-due", f"appointment {appointment_id} can be checked in from {(a.starts_at - CHECK_IN_EARLY).isoformat()} to {a.ends_at.isoformat()}")
    ticket = await queue.issue_ticket(
        session, ctx, branch_id=branch_id, service_type=a.service_type, origin=TicketOrigin.APPOINTMENT, customer_id=a.customer_id, tier=tier, appointment_id=appointment_id
    )
    await tickets_repo.mark_appointment_checked_in(session, appointment_id, ticket["ticket_id"])
    return ticket


def offer_values(ctx: Ctx, *, branch_id: str, kiosk_id: str | None, request: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """The ``diversions`` row of a new offer (status ``offered``, a new ``diversion_id``);
    ``amount`` is a Decimal with the column's four places."""
    amount = request.get("amount")
    return {
        "diversion_id": str(uuid.uuid4()),
        "branch_id": branch_id,
        "kiosk_id": kiosk_id,
        "customer_id": request.get("customer_id"),
        "service_type": request["service_type"],
        "channel": decision.channel,
        "device_id": decision.device_id,
        "amount": None if amount is None else Decimal(str(amount)).quantize(Decimal("0.0001")),
        "currency": request.get("currency"),
        "rule_set_version": decision.rule_set_version,
        "rule_id": decision.rule_id,
        "status": "offered",
        "request": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in request.items()},
        "created_at": ctx.now,
        "fee_notice": decision.fee_notice,
        "message": decision.message,
        "offer_ttl_s": decision.offer_ttl_s,
    }


async def record_offer(session: AsyncSession, ctx: Ctx, *, branch_id: str, kiosk_id: str | None, request: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """Record an offer of another channel and publish ``channel.diversion.offered``."""
    values = offer_values(ctx, branch_id=branch_id, kiosk_id=kiosk_id, request=request, decision=decision)
    diversion_id = values["diversion_id"]
    await tickets_repo.insert_diversion(session, values)
    d = await tickets_repo.get_diversion(session, diversion_id)
    await ctx.publish(session, diversion_step(dv.DiversionOffered, d, at=ctx.now))
    view = offer_view(d)
    view["explanation"] = decision.explanation
    return view


async def _offered(session: AsyncSession, diversion_id: str, branch_id: str) -> Row:
    d = await tickets_repo.get_diversion(session, diversion_id, lock=True)
    if d is None or d.branch_id != branch_id:
        raise not_found("diversion offer", diversion_id)
    if d.status != "offered":
        raise conflict("offer-decided", f"offer {diversion_id} is already {d.status}", current_status=d.status)
    return d


async def accept_offer(session: AsyncSession, ctx: Ctx, *, diversion_id: str, branch_id: str) -> dict[str, Any]:
    """The customer takes the other channel: the visit is recorded as diverted (no ticket)
    and ``channel.diversion.accepted`` carries the expiry of the hand-off: now + the
    rule's ``offer_ttl_s``, else the service's ``offer_ttl_s`` setting."""
    d = await _offered(session, diversion_id, branch_id)
    expires = ctx.now + timedelta(seconds=d.offer_ttl_s or ctx.settings.offer_ttl_s)
    d = await tickets_repo.update_diversion(session, diversion_id, {"status": "accepted", "decided_at": ctx.now, "expires_at": expires})
    await ctx.publish(session, diversion_step(dv.DiversionAccepted, d, at=ctx.now, expires_at=expires))
    return {"kind": "diverted", "offer": offer_view(d)}


async def decline_offer(session: AsyncSession, ctx: Ctx, *, diversion_id: str, branch_id: str) -> dict[str, Any]:
    """The customer wants the counter after all: a ticket is issued and
    ``channel.diversion.declined`` names it."""
    d = await _offered(session, diversion_id, branch_id)
    req = d.request
    tier = (await ctx.readmodels.score(req["customer_id"]))[0] if req.get("customer_id") else None
    ticket = await queue.issue_ticket(session, ctx, branch_id=branch_id, service_type=d.service_type, customer_id=d.customer_id, tier=tier, diversion_id=diversion_id)
    d = await tickets_repo.update_diversion(session, diversion_id, {"status": "declined", "decided_at": ctx.now, "ticket_id": ticket["ticket_id"]})
    await ctx.publish(session, diversion_step(dv.DiversionDeclined, d, at=ctx.now))
    return {"kind": "ticket", "ticket": ticket, "offer": offer_view(d)}
