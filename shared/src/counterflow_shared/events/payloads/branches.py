"""``branch.directory.v1`` (compacted, key ``branch_id``) and ``branch.load.v1``
(compacted, key ``branch_id``): what other services know of a branch."""

from __future__ import annotations

from datetime import date, time

from pydantic import AwareDatetime, BaseModel, Field

from counterflow_shared.events.payloads.common import Id, Payload


class OpeningInterval(BaseModel):
    """One opening interval in local wall-clock time; ``weekday`` 0 = Monday (ISO 8601 - 1)."""

    weekday: int
    opens: time
    closes: time


class ServiceOffer(BaseModel):
    """A service type a branch offers, with its ticket prefix and whether it handles cash."""

    service_type: str
    name: str
    prefix: str
    handles_cash: bool


class BranchProfile(Payload):
    """A branch as the app and other services see it.

    ``time_zone`` is an IANA name (``Europe/Prague``); opening hours are local wall-clock
    times so that daylight-saving days come out right when converted.
    """

    branch_id: Id
    name: str
    time_zone: str
    opening_hours: list[OpeningInterval]
    closed_days: list[date] = []
    services: list[ServiceOffer] = []
    appointment_capacity_per_slot: int = 1
    appointment_slot_minutes: int = 15
    active: bool = True
    #: "your turn soon" goes to an app customer once the ticket is at this queue position
    #: or closer (1 = next); ``None``: the gateway's own default (issue 17)
    notify_at_position: int | None = None
    #: default language of the branch's staff pages and announcements (a code of
    #: ``counterflow_shared.web.pages.i18n.LANGUAGES``: ``en``, ``zh_CN``); older events
    #: without it mean English
    language: str = Field(default="en", min_length=2, max_length=16)
    updated_at: AwareDatetime


class ServiceLoad(BaseModel):
    """Queue state of one service type.

    Attributes:
        waiting: tickets waiting.
        estimated_wait_s: expected wait of a ticket issued now (seconds), ``None`` = unknown.
        open_counters: counters open now whose skills serve this service type.
    """

    service_type: str
    waiting: int
    estimated_wait_s: float | None
    open_counters: int


class BranchLoadSnapshot(Payload):
    """Load of a branch at ``at``; ``sla_share`` is the share of customers called within the
    SLA target over the last ``sla_window_s`` seconds (``None`` with no data)."""

    branch_id: Id
    at: AwareDatetime
    services: list[ServiceLoad]
    sla_share: float | None = None
    sla_target_s: float = 600.0
    sla_window_s: float = 3600.0
