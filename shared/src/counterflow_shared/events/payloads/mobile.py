"""``mobile.activity.v1`` (key ``customer_id``): what customers do in the app."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from counterflow_shared.events.payloads.common import Id, Payload
from counterflow_shared.money import Amount


class RemoteTicketRequested(Payload):
    """Join a branch queue from the app; ticketing answers on ``branch.tickets.v1`` with a
    ``TicketIssued`` carrying ``remote_request_id`` (or ``RemoteTicketRejected``).

    The gateway's channel decision travels with the request (ticketing does not decide a
    second time): ``rule_set_version`` / ``rule_id`` name it, ``priority_boost`` (points)
    and ``route_to`` (``vip_room``, ``relationship_manager``, ``wealth_desk``) are applied
    to the ticket. Absent (older producers, a declined offer): a plain ticket.
    """

    request_id: Id
    customer_id: Id
    branch_id: Id
    service_type: str
    travel_time_s: float | None = None
    requested_at: AwareDatetime
    rule_set_version: int | None = None
    rule_id: str | None = None
    priority_boost: int = Field(default=0, ge=0)
    route_to: Literal["vip_room", "relationship_manager", "wealth_desk"] | None = None


class RemoteTicketCancelled(Payload):
    """The customer cancelled a remote ticket in the app."""

    request_id: Id
    customer_id: Id
    branch_id: Id
    ticket_id: Id | None = None
    cancelled_at: AwareDatetime


class AppointmentChanged(Payload):
    """An appointment booked, rescheduled or cancelled (``status``); times are UTC."""

    appointment_id: Id
    customer_id: Id
    branch_id: Id
    service_type: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: str
    occurred_at: AwareDatetime


class AppointmentBooked(AppointmentChanged):
    """A new appointment."""


class AppointmentRescheduled(AppointmentChanged):
    """An appointment moved to another slot."""


class AppointmentCancelled(AppointmentChanged):
    """An appointment was cancelled."""


class DraftCompleted(Payload):
    """A diverted transaction was completed in the app; closes the diversion."""

    draft_id: Id
    diversion_id: Id | None = None
    customer_id: Id
    service_type: str
    amount: Amount | None = None
    currency: str | None = None
    completed_at: AwareDatetime


class DraftExpired(Payload):
    """A hand-off draft expired without being completed."""

    draft_id: Id
    diversion_id: Id | None = None
    customer_id: Id
    expired_at: AwareDatetime


class FeedbackGiven(Payload):
    """A customer's feedback in the app on a served ticket (issue 17): ``score`` 1 (poor)
    .. 5 (excellent), optional ``comment``; ticketing keeps one per ticket (the first)."""

    ticket_id: Id
    customer_id: Id
    branch_id: Id
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)
    given_at: AwareDatetime


class NotificationIssued(Payload):
    """A notification for a push provider to deliver (``kind``: turn_soon, called,
    appointment_reminder, draft_waiting, time_to_leave)."""

    notification_id: Id
    customer_id: Id
    kind: str
    title: str
    body: str
    data: dict[str, str] = {}
    created_at: AwareDatetime
