"""Payloads the ticketing service publishes, built from table rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.engine import Row

from counterflow_shared.events.payloads import tickets as tk
from counterflow_shared.events.payloads.branches import BranchProfile, OpeningInterval, ServiceOffer


def ticket_transition(
    cls: type[tk.TicketTransition],
    t: Row,
    *,
    at: datetime,
    position: int | None = None,
    estimated_wait_s: float | None = None,
    counter_name: str | None = None,
    view: dict | None = None,
    **extra: object,
) -> tk.TicketTransition:
    """A ``branch.tickets.v1`` payload of type ``cls`` for ticket row ``t`` at ``at``;
    calls carry ``counter_name``, the counter as the customer sees it (issue 17);
    ``view`` (a waiting ticket's view) gives position and the whole wait forecast;
    ``extra`` are the fields of ``cls`` beyond the transition's own."""
    if view is not None:
        position, estimated_wait_s = view["position"], view["estimated_wait_s"]
    return cls(
        ticket_id=t.ticket_id,
        branch_id=t.branch_id,
        number=t.number,
        service_type=t.service_type,
        status=t.status,
        origin=t.origin,
        priority=t.priority,
        customer_id=t.customer_id,
        business_date=t.business_date,
        counter_id=t.counter_id,
        counter_name=counter_name,
        teller_id=t.teller_id,
        position=position,
        estimated_wait_s=estimated_wait_s,
        estimated_wait_p10_s=None if view is None else view["estimated_wait_p10_s"],
        estimated_wait_p90_s=None if view is None else view["estimated_wait_p90_s"],
        p_called_within_sla=None if view is None else view["p_called_within_sla"],
        call_count=t.call_count,
        remote_request_id=t.remote_request_id,
        appointment_id=t.appointment_id,
        issued_at=t.issued_at,
        occurred_at=at,
        outcome=t.outcome,
        **extra,
    )


def branch_profile(branch: Row, hours: list[Row], services: list[Row], *, at: datetime) -> BranchProfile:
    """The ``branch.profile.updated`` payload of a branch with its hours and services."""
    return BranchProfile(
        branch_id=branch.branch_id,
        name=branch.name,
        time_zone=branch.time_zone,
        opening_hours=[OpeningInterval(weekday=h.weekday, opens=h.opens, closes=h.closes) for h in hours],
        closed_days=[date.fromisoformat(d) for d in branch.closed_days],
        services=[ServiceOffer(service_type=s.service_type, name=s.name, prefix=s.prefix, handles_cash=s.handles_cash) for s in services],
        appointment_capacity_per_slot=branch.appointment_capacity_per_slot,
        appointment_slot_minutes=branch.appointment_slot_minutes,
        active=branch.active,
        notify_at_position=branch.notify_at_position,
        language=branch.language,
        updated_at=at,
    )
