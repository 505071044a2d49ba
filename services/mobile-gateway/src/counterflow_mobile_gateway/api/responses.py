"""Response bodies of the customer API (pydantic, used as ``response_model``): what the
app backend reads. Times are ISO 8601 strings in UTC unless named ``local_*``; durations
are seconds (``None``: unknown); amounts are decimal strings in major units of
``currency``. Bodies may gain fields later (:class:`ResponseBody`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from counterflow_mobile_gateway.domain.notifications import NotificationKind
from counterflow_shared.web.responses import DATE, DATE_TIME, ResponseBody

_TICKET_EXAMPLE = {
    "id": "9d2b6f0e-31a4-4c43-8f0a-5d8a4e1b7c22",
    "origin": "remote",
    "branch_id": "prague-1",
    "service_type": "account_opening",
    "status": "issued",
    "ticket_id": "5b0e7c9e-8a43-4a52-9d43-0f2a4c1f8a10",
    "number": "B012",
    "priority": 0,
    "position": 4,
    "estimated_wait_s": 540.0,
    "counter_id": None,
    "travel_time_s": 900.0,
    "reject_reason": None,
    "appointment_id": None,
    "requested_at": "2026-12-01T09:10:00+00:00",
    "issued_at": "2026-12-01T09:10:01+00:00",
    "updated_at": "2026-12-01T09:12:30+00:00",
}

_OFFER_EXAMPLE = {
    "diversion_id": "0c3f1d9a-2b7e-4e55-a0c1-3d1b6f2e9b77",
    "status": "offered",
    "branch_id": "prague-1",
    "service_type": "payment_order",
    "channel": "mobile",
    "device_id": None,
    "amount": "1500.00",
    "currency": "CZK",
    "fee_notice": None,
    "message": "Send this payment from the app now, no queue.",
    "explanation": "payment_order with amount: app hand-off",
    "offer_ttl_s": 900,
    "rule_set_version": 4,
    "rule_id": "payments-to-app",
    "request_id": None,
    "created_at": "2026-12-01T09:10:00+00:00",
    "decided_at": None,
}

_DECISION_EXAMPLE = {
    "kind": "ticket",
    "rule_set_version": 4,
    "rule_id": None,
    "channel": None,
    "priority_boost": 0,
    "route_to": None,
    "fee_notice": None,
    "explanation": "no rule matched: queue",
}


class FollowedTicket(ResponseBody):
    """A ticket the customer follows (remote or from an appointment check-in). ``status``:
    ``pending`` (asked, ticketing has not answered yet), then ticketing's status
    (``waiting``, ``called``, ``serving``, ...) or ``rejected`` with ``reject_reason``;
    ``number`` and ``ticket_id`` once issued."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TICKET_EXAMPLE]})

    id: str = Field(description="the gateway's id of the request (path id of /v1/tickets/{ticket_id})")
    origin: str
    branch_id: str
    service_type: str
    status: str
    ticket_id: str | None = None
    number: str | None = None
    priority: int | None = None
    position: int | None = None
    estimated_wait_s: float | None = None
    counter_id: str | None = None
    travel_time_s: float | None = None
    reject_reason: str | None = None
    appointment_id: str | None = None
    requested_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    issued_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    updated_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)


class DecisionView(ResponseBody):
    """What the channel rules decided: ``kind`` (``ticket`` or ``offer``), the rule set
    version and rule, the channel offered, the priority boost (points), the route, the fee
    notice and the engine's explanation."""

    kind: str
    rule_set_version: int | None = None
    rule_id: str | None = None
    channel: str | None = None
    priority_boost: int | None = None
    route_to: str | None = None
    fee_notice: str | None = None
    explanation: str | None = None


class OfferView(ResponseBody):
    """An offer of another channel (``mobile``, ``appointment`` or a device kind); after a
    decline ``request_id`` names the remote ticket requested instead."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OFFER_EXAMPLE]})

    diversion_id: str
    status: str = Field(description="``offered``, ``accepted``, ``declined``, ``expired`` or ``completed``")
    branch_id: str
    service_type: str
    channel: str
    device_id: str | None = None
    amount: str | None = None
    currency: str | None = None
    fee_notice: str | None = None
    message: str | None = None
    explanation: str | None = None
    offer_ttl_s: int | None = None
    rule_set_version: int | None = None
    rule_id: str | None = None
    request_id: str | None = None
    created_at: str = Field(json_schema_extra=DATE_TIME)
    decided_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)


class TicketRequested(FollowedTicket):
    """202 ``kind: "ticket"``: a pending remote ticket (ticketing's answer arrives as an
    event: follow ``GET /v1/tickets/{id}`` or the stream) with the rules' ``decision``; after
    a decline also the declined ``offer``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "ticket", **_TICKET_EXAMPLE, "status": "pending", "ticket_id": None, "number": None, "decision": _DECISION_EXAMPLE}]})

    kind: Literal["ticket"]
    decision: DecisionView | None = None
    offer: OfferView | None = None


class OfferMade(ResponseBody):
    """200 ``kind: "offer"``: no ticket yet; accept or decline under ``/v1/offers``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "offer", "offer": _OFFER_EXAMPLE, "decision": {**_DECISION_EXAMPLE, "kind": "offer", "channel": "mobile", "rule_id": "payments-to-app"}}]})

    kind: Literal["offer"]
    offer: OfferView
    decision: DecisionView


class Diverted(ResponseBody):
    """``kind: "diverted"``: the customer took the offered channel; ``expires_at`` ends the hand-off."""

    kind: Literal["diverted"]
    offer: OfferView
    expires_at: str = Field(json_schema_extra=DATE_TIME)


class Appointment(ResponseBody):
    """A booked appointment; ``ticket_id`` once checked in at the branch."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "appointment_id": "6f1c2a0e-9d55-4b8e-b1d4-2a7c3e5f0b12",
                    "branch_id": "prague-1",
                    "service_type": "mortgage_advice",
                    "starts_at": "2026-12-02T09:00:00+00:00",
                    "ends_at": "2026-12-02T09:15:00+00:00",
                    "status": "booked",
                    "ticket_id": None,
                    "created_at": "2026-12-01T09:10:00+00:00",
                    "updated_at": "2026-12-01T09:10:00+00:00",
                }
            ]
        }
    )

    appointment_id: str
    branch_id: str
    service_type: str
    starts_at: str = Field(json_schema_extra=DATE_TIME)
    ends_at: str = Field(json_schema_extra=DATE_TIME)
    status: str
    ticket_id: str | None = None
    created_at: str = Field(json_schema_extra=DATE_TIME)
    updated_at: str = Field(json_schema_extra=DATE_TIME)


class Slot(ResponseBody):
    """A bookable slot: UTC instants, the branch-local start with its offset, free places."""

    starts_at: str = Field(json_schema_extra=DATE_TIME)
    ends_at: str = Field(json_schema_extra=DATE_TIME)
    local_start: str = Field(json_schema_extra=DATE_TIME)
    free: int


class DaySlots(ResponseBody):
    """Free slots of one branch-local day for one service."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "branch_id": "prague-1",
                    "service_type": "mortgage_advice",
                    "date": "2026-12-02",
                    "time_zone": "Europe/Prague",
                    "slots": [{"starts_at": "2026-12-02T08:00:00+00:00", "ends_at": "2026-12-02T08:15:00+00:00", "local_start": "2026-12-02T09:00:00+01:00", "free": 2}],
                }
            ]
        }
    )

    branch_id: str
    service_type: str
    date: str = Field(json_schema_extra=DATE)
    time_zone: str
    slots: list[Slot]


class OpeningInterval(ResponseBody):
    """Opening hours of a weekday (0 = Monday), ``HH:MM`` in the branch's zone."""

    weekday: int
    opens: str
    closes: str


class BranchService(ResponseBody):
    """A service of the branch with its load from the last snapshot (``None``: unknown)."""

    service_type: str
    name: str
    waiting: int | None = None
    estimated_wait_s: float | None = None
    open_counters: int | None = None


class Branch(ResponseBody):
    """A branch as the app shows it: local opening hours, open now, services with waits."""

    branch_id: str
    name: str
    time_zone: str
    active: bool
    open_now: bool
    opening_hours: list[OpeningInterval]
    closed_days: list[str]
    appointment_slot_minutes: int
    services: list[BranchService]
    load_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)


class Draft(ResponseBody):
    """A hand-off draft: a diverted transaction the customer completes in the app."""

    draft_id: str
    diversion_id: str
    branch_id: str
    service_type: str
    amount: str | None = None
    currency: str | None = None
    payee: str | None = None
    status: str
    expires_at: str = Field(json_schema_extra=DATE_TIME)
    completed_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    created_at: str = Field(json_schema_extra=DATE_TIME)


class Notification(ResponseBody):
    """A notification; ``data`` holds ids the app links to (``ticket_id``, ...)."""

    notification_id: str
    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any]
    created_at: str = Field(json_schema_extra=DATE_TIME)


class NotificationPage(ResponseBody):
    """A page of the feed, newest first; pass ``next_before`` as ``before`` for the next (``None``: last page)."""

    items: list[Notification]
    next_before: str | None = None
