"""Request bodies of the ticketing API (pydantic; unknown fields refused)."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from counterflow_shared.constraints import BankDate, Id
from counterflow_shared.money import CurrencyAmount, CurrencyCode


class Body(BaseModel):
    """Base of request bodies: unknown fields are a 422."""

    model_config = ConfigDict(extra="forbid")


class OpeningHoursIn(Body):
    """An opening interval in local wall-clock time; ``weekday`` 0 = Monday."""

    weekday: int = Field(ge=0, le=6)
    opens: time
    closes: time


class ZoneIn(Body):
    """A zone of the branch."""

    zone: Literal["cash", "non_cash", "self_service", "wealth", "vip_room"]
    name: str = Field(min_length=1, max_length=200)


class BranchIn(Body):
    """A branch: IANA ``time_zone``, opening hours, closed days, zones, offered services;
    ``max_wait_s`` is the ageing bound (seconds), ``no_show_after_calls`` the calls
    before a no-show is allowed."""

    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(min_length=1, max_length=64, examples=["Europe/Prague"])
    opening_hours: list[OpeningHoursIn] = Field(default=[], max_length=7 * 8)
    closed_days: list[BankDate] = Field(default=[], max_length=1000)
    zones: list[ZoneIn] = Field(default=[], max_length=16)
    services: list[Id] = Field(default=[], max_length=64)
    max_wait_s: float | None = Field(default=None, gt=60, le=4 * 3600)
    no_show_after_calls: int | None = Field(default=None, ge=1, le=10)
    appointment_capacity_per_slot: int = Field(default=1, ge=1, le=50)
    appointment_slot_minutes: int = Field(default=15, ge=5, le=240)
    active: bool = True
    language: Literal["en", "zh_CN"] = Field(default="en", description="default language of the branch's pages and calling-display announcements")
    notify_at_position: int | None = Field(default=None, ge=1, le=100, description="customers following a ticket (app, SMS, e-mail) are told 'your turn soon' once it is this many places from the front or closer (1 = next); null: the platform default")


class ServiceTypeIn(Body):
    """A service type of the catalog: ticket prefix, skill needed, cash handling, zone and
    the default mean service time (seconds) used before the branch has history."""

    name: str = Field(min_length=1, max_length=200)
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")
    skill: str = Field(min_length=1, max_length=64)
    handles_cash: bool
    zone: Literal["cash", "non_cash", "self_service", "wealth", "vip_room"]
    default_service_s: float = Field(gt=0, le=4 * 3600)


class CounterIn(Body):
    """A counter (service point): kind cash / high counter, non-cash / low counter or VIP room."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["cash", "non_cash", "vip_room"]
    zone: Literal["cash", "non_cash", "wealth", "vip_room"]
    skills: list[Id] = Field(min_length=1, max_length=64)
    active: bool = True


class KioskIn(Body):
    """A kiosk credential: the secret is stored as an Argon2id hash only. Leave ``secret``
    out and the service generates a 256-bit random one (``secrets.token_urlsafe(32)``)
    and returns it once, as selfservice does for devices."""

    secret: str | None = Field(default=None, min_length=16, max_length=200)


class ServiceRequestIn(Body):
    """A customer asks for a service at the kiosk. ``customer_id`` is optional (walk-ins);
    ``amount`` is a Decimal string in major units of ``currency``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"service_type": "cash_withdrawal", "customer_id": "C-1029", "currency": "CZK", "amount": "2000", "needs": []},
                {"service_type": "account_opening"},
                {"service_type": "mortgage_advice", "appointment_id": "6f1c2a0e-9d55-4b8e-b1d4-2a7c3e5f0b12"},
            ]
        },
    )

    service_type: str = Field(min_length=1, max_length=64)
    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    appointment_id: str | None = Field(default=None, min_length=1, max_length=64)
    currency: CurrencyCode | None = None
    amount: Annotated[CurrencyAmount, Field(ge=0)] | None = None
    needs: list[Literal["accessibility", "elderly", "asks_for_person"]] = Field(default=[], max_length=3)


class FinishIn(Body):
    """Service finished with ``outcome`` (e.g. ``completed``, ``referred``, ``unresolved``)."""

    outcome: str = Field(default="completed", min_length=1, max_length=64)


class TransferIn(Body):
    """Move a ticket to another service type and/or counter queue, at the back or front."""

    service_type: str | None = Field(default=None, min_length=1, max_length=64)
    counter_id: str | None = Field(default=None, min_length=1, max_length=64)
    position: Literal["back", "front"] = "back"
