"""Vocabulary shared by several payloads (service types, channels, tiers)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    """Base of every event payload: unknown fields are ignored (forward compatible)."""

    model_config = ConfigDict(extra="ignore")


class ServiceType(StrEnum):
    """Standard branch service types (the catalog ticketing seeds)."""

    CASH_WITHDRAWAL = "cash_withdrawal"
    CASH_DEPOSIT = "cash_deposit"
    TRANSFER = "transfer"
    BILL_PAYMENT = "bill_payment"
    STATEMENT = "statement"
    CARD_SERVICES = "card_services"
    ACCOUNT_OPENING = "account_opening"
    LOAN_CONSULTATION = "loan_consultation"
    WEALTH_MANAGEMENT = "wealth_management"
    FOREIGN_EXCHANGE = "foreign_exchange"
    COMPLAINT = "complaint"


class Channel(StrEnum):
    """Where a customer can be served."""

    COUNTER = "counter"
    ATM = "atm"
    CASH_RECYCLER = "cash_recycler"
    KIOSK = "kiosk"
    MOBILE = "mobile"
    ONLINE = "online"
    APPOINTMENT = "appointment"


class Tier(StrEnum):
    """Customer tier, highest contribution first."""

    PRIVATE = "private"
    VIP = "vip"
    PREMIUM = "premium"
    MASS = "mass"
    BASIC = "basic"


Id = Annotated[str, Field(min_length=1, max_length=64)]
