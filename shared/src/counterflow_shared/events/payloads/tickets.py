"""``branch.tickets.v1`` (key ``branch_id``): every ticket transition in a branch."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field

from counterflow_shared.events.payloads.common import Id, Payload


class TicketOrigin(StrEnum):
    """How the ticket came to be."""

    WALK_IN = "walk_in"
    APPOINTMENT = "appointment"
    REMOTE = "remote"


class TicketStatus(StrEnum):
    """Ticket life cycle: waiting -> called -> serving -> served (+ side exits)."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    SERVED = "served"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    DIVERTED = "diverted"
    EXPIRED = "expired"


class TicketTransition(Payload):
    """State of a ticket right after one transition.

    Attributes:
        number: display number, prefix + sequence of the business day (``A017``).
        business_date: the branch-local calendar date the number belongs to.
        position: 1-based place in its queue when waiting, else ``None``.
        estimated_wait_s: median seconds until called, ``None`` when unknown (no open counter).
        estimated_wait_p10_s / estimated_wait_p90_s: 80 % interval of that wait (seconds).
        p_called_within_sla: probability (0..1) of being called within the branch SLA target.
        remote_request_id: the mobile request this ticket answers (origin ``remote``).
        appointment_id: the appointment checked in (origin ``appointment``).
    """

    ticket_id: Id
    branch_id: Id
    number: str
    service_type: str
    status: TicketStatus
    origin: TicketOrigin
    priority: int = 0
    customer_id: Id | None = None
    business_date: date
    counter_id: Id | None = None
    counter_name: str | None = None
    teller_id: Id | None = None
    position: int | None = None
    estimated_wait_s: float | None = None
    estimated_wait_p10_s: float | None = None
    estimated_wait_p90_s: float | None = None
    p_called_within_sla: float | None = None
    call_count: int = 0
    remote_request_id: Id | None = None
    appointment_id: Id | None = None
    issued_at: AwareDatetime
    occurred_at: AwareDatetime
    outcome: str | None = None


class TicketIssued(TicketTransition):
    """A ticket was issued (walk-in, appointment check-in or remote request)."""


class TicketCalled(TicketTransition):
    """A counter called the ticket (first call)."""


class TicketRecalled(TicketTransition):
    """The ticket was called again (``call_count`` says how many calls so far)."""


class TicketServingStarted(TicketTransition):
    """The customer arrived at the counter; service started."""


class TicketServed(TicketTransition):
    """Service finished (``outcome`` as the teller recorded it)."""


class TicketNoShow(TicketTransition):
    """The customer did not answer the configured number of calls."""


class TicketTransferred(TicketTransition):
    """The ticket moved to another service type or counter queue."""


class TicketPriorityRaised(TicketTransition):
    """A lobby manager raised the waiting ticket's priority by hand (audited in ticketing
    with its reason, which stays there: it may describe the customer's health). The
    ticket's new ``priority``, ``position`` and wait forecast are in the transition
    fields; ``from_priority`` is the priority before the raise (points, the same scale)."""

    from_priority: int = Field(ge=0)
    raised_by_role: str = Field(min_length=1, max_length=40, description="role of the staff member who raised it (lobby_manager, ...)")


class TicketCancelled(TicketTransition):
    """The customer (or staff) cancelled the ticket."""


class TicketDiverted(TicketTransition):
    """The customer took another channel instead of waiting."""


class TicketExpired(TicketTransition):
    """The business day of a waiting or called ticket ended (end-of-day close in the
    branch's time zone) before it was served."""


class RemoteTicketRejected(Payload):
    """A remote ticket request from the app could not be honoured."""

    remote_request_id: Id
    branch_id: Id
    customer_id: Id
    reason: str
    occurred_at: datetime
