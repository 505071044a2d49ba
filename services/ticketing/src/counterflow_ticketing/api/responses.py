"""Response bodies of the ticketing API that kiosks, apps and staff consoles read: a ticket,
a diversion offer and the answers of a kiosk service request (pydantic; they document the
shapes in the OpenAPI document, ``docs/api/ticketing.openapi.json``).

Times are ISO 8601 strings with offset; ``business_date`` is the branch's local date;
durations are seconds (``None``: unknown); money is a Decimal string in major units.
Responses may gain fields (additive changes; :class:`ResponseBody`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from counterflow_shared.events.payloads.diversions import DiversionStatus
from counterflow_shared.events.payloads.tickets import TicketOrigin, TicketStatus
from counterflow_shared.web.responses import DATE, DATE_TIME, ResponseBody


TICKET_EXAMPLE = {
    "ticket_id": "5b0e7c9e-8a43-4a52-9d43-0f2a4c1f8a10",
    "branch_id": "prague-1",
    "number": "A007",
    "service_type": "cash_withdrawal",
    "status": "waiting",
    "origin": "walk_in",
    "priority": 0,
    "business_date": "2026-12-01",
    "issued_at": "2026-12-01T09:14:03.120000+00:00",
    "position": 3,
    "estimated_wait_s": 412.0,
    "estimated_wait_p10_s": 180.5,
    "estimated_wait_p90_s": 760.2,
    "p_called_within_sla": 0.871,
    "counter_id": None,
    "call_count": 0,
    "outcome": None,
    "route_to": None,
    "route_fallback": False,
}

OFFER_EXAMPLE = {
    "diversion_id": "0c3f1d9a-2b7e-4e55-a0c1-3d1b6f2e9b77",
    "status": "offered",
    "service_type": "cash_withdrawal",
    "channel": "atm",
    "device_id": "atm-prague-1-01",
    "amount": "2000",
    "currency": "CZK",
    "rule_set_version": 4,
    "rule_id": "small-cash-to-atm",
    "ticket_id": None,
    "fee_notice": None,
    "message": "The ATM by the entrance pays this out now, without queueing.",
    "offer_ttl_s": 600,
    "expires_at": None,
    "explanation": "amount 2000 CZK <= 5000; atm-prague-1-01 online with cash",
}


class TicketView(ResponseBody):
    """A ticket as kiosks, apps and staff see it. ``position`` is 1-based among the tickets
    of its skill (``None`` unless waiting); the wait forecast (seconds, ``None``: unknown or
    not waiting) is the median ``estimated_wait_s`` with the 80 % interval
    ``estimated_wait_p10_s``..``estimated_wait_p90_s`` and ``p_called_within_sla``, the
    probability of being called within the branch's SLA target (docs/wait-estimation.md)."""

    model_config = ConfigDict(json_schema_extra={"examples": [TICKET_EXAMPLE]})

    ticket_id: str
    branch_id: str
    number: str = Field(description="the number called out and shown, prefix + sequence (``A007``); never reused on a business day")
    service_type: str
    status: TicketStatus
    origin: TicketOrigin = Field(description="where the ticket came from: a walk-in at the kiosk or counter, the app (``remote``) or an appointment check-in")
    priority: int = Field(description="priority points (higher is called earlier)")
    business_date: str = Field(json_schema_extra=DATE)
    issued_at: str = Field(json_schema_extra=DATE_TIME)
    position: int | None = None
    estimated_wait_s: float | None = None
    estimated_wait_p10_s: float | None = None
    estimated_wait_p90_s: float | None = None
    p_called_within_sla: float | None = Field(default=None, ge=0, le=1)
    counter_id: str | None = None
    call_count: int = 0
    outcome: str | None = None
    route_to: str | None = Field(default=None, description="the counter kind a rule routed the ticket to")
    route_fallback: bool | None = Field(default=None, description="true when no open counter takes ``route_to`` and the ticket waits in the normal queue")


class OfferView(ResponseBody):
    """A diversion offer: another channel (``atm``, ``app``, ...) proposed instead of the
    counter, with the rule's terms: ``fee_notice``, ``message`` and ``offer_ttl_s``
    (seconds an accepted hand-off stays open; ``None``: the service default);
    ``expires_at`` once accepted."""

    model_config = ConfigDict(json_schema_extra={"examples": [OFFER_EXAMPLE]})

    diversion_id: str
    status: DiversionStatus
    service_type: str
    channel: str
    device_id: str | None = None
    amount: str | None = Field(default=None, description="Decimal string, major units of ``currency``")
    currency: str | None = None
    rule_set_version: int | None = None
    rule_id: str | None = None
    ticket_id: str | None = Field(default=None, description="the ticket issued when the offer was declined")
    fee_notice: str | None = None
    message: str | None = None
    offer_ttl_s: int | None = None
    expires_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    explanation: str | None = Field(default=None, description="why the rules made this offer (new offers only)")


class TicketIssued(ResponseBody):
    """``kind: "ticket"``: the customer queues; with the rule that decided (when one did)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "ticket",
                    "ticket": TICKET_EXAMPLE,
                    "rule_id": None,
                    "rule_set_version": 4,
                    "fee_notice": None,
                    "route_to": None,
                    "route_fallback": False,
                    "explanation": "no rule matched: queue",
                }
            ]
        }
    )

    kind: Literal["ticket"]
    ticket: TicketView
    rule_id: str | None = None
    rule_set_version: int | None = None
    fee_notice: str | None = None
    route_to: str | None = None
    route_fallback: bool | None = None
    explanation: str | None = None
    offer: OfferView | None = Field(default=None, description="the declined offer (after a decline)")


class OfferMade(ResponseBody):
    """``kind: "offer"``: the rules propose another channel; the kiosk shows it and posts
    the customer's answer to ``/v1/kiosk/offers/{diversion_id}/accept`` or ``/decline``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "offer", "offer": OFFER_EXAMPLE}]})

    kind: Literal["offer"]
    offer: OfferView


class Diverted(ResponseBody):
    """``kind: "diverted"``: the customer took the other channel; no ticket."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "diverted", "offer": {**OFFER_EXAMPLE, "status": "accepted", "expires_at": "2026-12-01T09:24:03+00:00"}}]})

    kind: Literal["diverted"]
    offer: OfferView


#: the answer of a service request: a ticket or an offer (``kind`` tells which)
ServiceRequestResult = TicketIssued | OfferMade


class TellerSession(ResponseBody):
    """A teller session at a counter as the workstation sees it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"session_id": "3e9a7c51-0b6d-4f2e-9a8c-1d2e3f4a5b6c", "counter_id": "prague-1-c3", "teller_id": "teller-17", "status": "open", "opened_at": "2026-12-01T08:00:12+00:00"}]}
    )

    session_id: str
    counter_id: str
    teller_id: str
    status: Literal["open", "paused", "closed"]
    opened_at: str = Field(json_schema_extra=DATE_TIME)


class TicketResult(ResponseBody):
    """The ticket a teller or lobby action acted on; ``ticket`` is ``None`` (with ``detail``) when
    call-next finds no waiting ticket this counter can serve."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"ticket": {**TICKET_EXAMPLE, "status": "called", "position": None, "counter_id": "prague-1-c3", "call_count": 1}}]})

    ticket: TicketView | None
    detail: str | None = None


class ServiceTypeView(ResponseBody):
    """A service type of the catalog: ticket ``prefix``, the counter ``skill`` it needs,
    cash handling, zone, and the mean service time (seconds) used before a branch has history."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"service_type": "account_opening", "name": "Account opening", "prefix": "D", "skill": "accounts", "handles_cash": False, "zone": "non_cash", "default_service_s": 900.0}]})

    service_type: str
    name: str
    prefix: str
    skill: str
    handles_cash: bool
    zone: str
    default_service_s: float


class CounterView(ResponseBody):
    """A counter (service point) as operations see it."""

    counter_id: str
    branch_id: str
    name: str
    kind: str
    zone: str
    skills: list[str]
    active: bool


class KioskRegistered(ResponseBody):
    """A registered (or re-keyed) kiosk; the secret is never returned."""

    kiosk_id: str
    branch_id: str


class OpeningInterval(ResponseBody):
    """Opening hours of a weekday (0 = Monday), local wall-clock ``HH:MM:SS``."""

    weekday: int
    opens: str
    closes: str


class ZoneView(ResponseBody):
    """A zone of the branch."""

    zone: str
    name: str


class BranchView(ResponseBody):
    """A branch with its IANA ``time_zone``, local opening hours, closed days (ISO dates),
    zones, offered service types and counters; ``max_wait_s`` is the ageing bound (seconds)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "branch_id": "prague-1",
                    "name": "Prague Wenceslas Square",
                    "time_zone": "Europe/Prague",
                    "closed_days": ["2026-12-24"],
                    "max_wait_s": 1200.0,
                    "no_show_after_calls": 2,
                    "appointment_capacity_per_slot": 1,
                    "appointment_slot_minutes": 15,
                    "active": True,
                    "language": "en",
                    "opening_hours": [{"weekday": 0, "opens": "08:00:00", "closes": "18:00:00"}],
                    "zones": [{"zone": "non_cash", "name": "Service"}],
                    "services": ["account_opening", "transfer"],
                    "counters": [{"counter_id": "prague-1-c1", "branch_id": "prague-1", "name": "Counter 1", "kind": "non_cash", "zone": "non_cash", "skills": ["accounts", "payments"], "active": True}],
                }
            ]
        }
    )

    branch_id: str
    name: str
    time_zone: str
    closed_days: list[str]
    max_wait_s: float
    no_show_after_calls: int | None = None
    appointment_capacity_per_slot: int
    appointment_slot_minutes: int
    active: bool
    language: str
    opening_hours: list[OpeningInterval]
    zones: list[ZoneView]
    services: list[str]
    counters: list[CounterView]
