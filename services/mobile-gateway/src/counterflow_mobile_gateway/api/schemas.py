"""Request bodies of the customer API (pydantic). Unknown fields are refused so a typo
is a 422 naming the field instead of a silently ignored value. Amounts use
:data:`counterflow_shared.money.CurrencyAmount`: decimal strings of ASCII digits, no
more decimals than the currency's ISO 4217 minor unit; a JSON float is refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from counterflow_shared.events.payloads.common import Id
from counterflow_shared.constraints import BankDateTime
from counterflow_shared.money import CurrencyAmount, CurrencyCode


class Body(BaseModel):
    """Base of request bodies: extra fields forbidden."""

    model_config = ConfigDict(extra="forbid")


ServiceTypeName = Annotated[str, Field(min_length=1, max_length=64, examples=["cash_withdrawal"])]


class RegisterCustomer(Body):
    """Development identity provider: create a customer login."""

    username: Annotated[str, Field(min_length=3, max_length=200)]
    password: Annotated[str, Field(min_length=8, max_length=200)]
    customer_id: Id | None = Field(default=None, description="the bank's customer id; generated when absent")


class RemoteTicketRequest(Body):
    """Join a branch queue from the app; ``travel_time_s`` (seconds, optional) enables
    the "time to leave" notification. ``amount`` (decimal string, major units of
    ``currency``, required with it: 422 ``body.currency``) and ``needs`` are optional
    inputs of the channel rules."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"branch_id": "prague-1", "service_type": "account_opening", "travel_time_s": 900},
                {"branch_id": "prague-1", "service_type": "payment_order", "currency": "CZK", "amount": "1500.00", "needs": []},
            ]
        },
    )

    branch_id: Id
    service_type: ServiceTypeName
    travel_time_s: Annotated[float, Field(ge=0, le=24 * 3600)] | None = None
    currency: CurrencyCode | None = None
    amount: Annotated[CurrencyAmount, Field(ge=0)] | None = None
    needs: list[Literal["accessibility", "elderly", "asks_for_person"]] = Field(default_factory=list, max_length=3)


class AppointmentRequest(Body):
    """Book the slot starting at ``starts_at`` (an instant with offset, e.g. ``...Z``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"branch_id": "prague-1", "service_type": "mortgage_advice", "starts_at": "2026-12-02T08:00:00Z"}]})

    branch_id: Id
    service_type: ServiceTypeName
    starts_at: BankDateTime


class RescheduleRequest(Body):
    """Move an appointment to the slot starting at ``starts_at``."""

    starts_at: BankDateTime


class DraftCompletion(Body):
    """Complete a hand-off draft; each field overrides the pre-filled value when given.
    ``amount`` is a decimal string in major units of ``currency``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"currency": "CZK", "amount": "1500.00", "payee": "Electricity Ltd"}]})

    currency: CurrencyCode | None = None
    amount: Annotated[CurrencyAmount, Field(gt=0)] | None = None
    payee: Annotated[str, Field(min_length=1, max_length=200)] | None = None
