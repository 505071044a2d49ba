"""Typed answers of the lobby and teller views (they appear in the OpenAPI document).
Times are ISO 8601 UTC strings, durations seconds, priorities points (0..9)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_ticketing.api.schemas import Body


class RuleRef(BaseModel):
    """The channel rule whose decision issued the ticket."""

    rule_id: str
    rule_set_version: int
    description: str = ""
    explanation: str = Field(default="", description="the decision's own explanation, as recorded when the ticket was issued")


class PriorityRaise(BaseModel):
    """The last raise of the ticket's priority by hand (audited)."""

    from_priority: int
    to_priority: int
    reason: str
    raised_by: str
    raised_at: str


class PriorityReason(BaseModel):
    """Why the ticket has its priority: tier points, appointment, the rule, a raise."""

    tier: str | None
    tier_points: int
    appointment: bool
    rule: RuleRef | None
    raised: PriorityRaise | None
    explanation: str = Field(description="the same facts in one English sentence")


class WaitingTicket(BaseModel):
    """A waiting ticket with its 1-based ``position`` in its skill's queue and its
    ``estimated_wait_s`` (``None`` = unknown: no open counter can serve it)."""

    ticket_id: str
    number: str
    service_type: str
    skill: str
    status: str
    origin: str
    priority: int
    customer_id: str | None
    tier: str | None
    issued_at: str
    waited_s: float
    urgent: bool = Field(description="waited so long that it is called before any priority")
    position: int | None
    estimated_wait_s: float | None
    route_to: str | None = None
    priority_reason: PriorityReason


class ServiceQueue(BaseModel):
    """One service type's queue: how many wait, the estimate for a customer joining now,
    the longest current wait and the open counters able to serve it."""

    service_type: str
    name: str
    waiting: int
    estimated_wait_s: float | None
    longest_wait_s: float
    open_counters: int


class QueueOverview(BaseModel):
    """A branch's queue: per service type and every waiting ticket in call order."""

    branch_id: str
    name: str
    language: str
    at: str
    queues: list[ServiceQueue]
    waiting: list[WaitingTicket]


class CounterTicket(BaseModel):
    """The ticket called to or served at a counter."""

    ticket_id: str
    number: str
    status: Literal["called", "serving"]
    service_type: str
    tier: str | None
    customer_id: str | None
    priority: int
    call_count: int
    called_at: str | None
    serving_started_at: str | None
    priority_reason: PriorityReason


class CounterState(BaseModel):
    """A counter: ``closed`` (no session), ``open`` (free), ``paused`` or ``serving``
    (a ticket called or in service), with its teller and ticket."""

    counter_id: str
    name: str
    zone: str
    kind: str
    skills: list[str]
    state: Literal["open", "paused", "closed", "serving"]
    teller_id: str | None
    session_opened_at: str | None
    ticket: CounterTicket | None


class CounterStates(BaseModel):
    """Every active counter of a branch."""

    branch_id: str
    at: str
    counters: list[CounterState]


class QueueAndCounters(BaseModel):
    """The teller workstation's live view: the queue overview and the counters."""

    overview: QueueOverview
    counters: list[CounterState]


class OfferInFlight(BaseModel):
    """A diversion offer of today and where it stands."""

    diversion_id: str
    service_type: str
    channel: str
    device_id: str | None
    customer_id: str | None
    rule_id: str
    status: str
    ticket_id: str | None
    created_at: str
    decided_at: str | None
    closed_at: str | None


class Today(BaseModel):
    """Today's figures (business day in the branch's time zone): SLA share = tickets
    called within ``sla_target_s`` / tickets called; walk-outs = no-show or cancelled."""

    since: str
    issued: int
    served: int
    walk_outs: int
    called: int
    called_within_target: int
    sla_target_s: float
    sla_share: float | None
    offers: int
    offers_accepted: int
    offers_completed: int


class LobbyState(BaseModel):
    """The lobby console: queues, counters, devices (read model of
    ``selfservice.devices.v1``), today's offers and figures."""

    overview: QueueOverview
    counters: list[CounterState]
    devices: list[DeviceState]
    offers: list[OfferInFlight]
    today: Today


class PriorityIn(Body):
    """Raise a waiting ticket's priority to ``priority`` points, with the audited reason."""

    priority: int = Field(ge=1, le=9)
    reason: str = Field(min_length=1, max_length=500)
