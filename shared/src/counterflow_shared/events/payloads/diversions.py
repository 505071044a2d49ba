"""``channel.diversions.v1`` (key ``customer_id``, or the diversion id for anonymous
walk-ins): every step of a diversion offer."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime

from counterflow_shared.events.payloads.common import Id, Payload
from counterflow_shared.money import Amount


class DiversionStatus(StrEnum):
    """offered -> accepted | declined; accepted -> completed | expired."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"
    EXPIRED = "expired"


class DiversionChanged(Payload):
    """A diversion after one step.

    Attributes:
        channel: target channel (``atm``, ``cash_recycler``, ``kiosk``, ``mobile``, ``appointment``).
        device_id: target device for self-service channels.
        amount / currency: the transaction as asked for (Decimal, major units).
        rule_set_version / rule_id: the decision that produced the offer.
        expires_at: when an accepted diversion not completed by then expires.
        completed_by: ``selfservice`` or ``mobile`` for completions.
    """

    diversion_id: Id
    branch_id: Id
    customer_id: Id | None = None
    service_type: str
    channel: str
    device_id: Id | None = None
    amount: Amount | None = None
    currency: str | None = None
    payee: str | None = None
    rule_set_version: int
    rule_id: str
    status: DiversionStatus
    ticket_id: Id | None = None
    transaction_id: Id | None = None
    completed_by: str | None = None
    occurred_at: AwareDatetime
    expires_at: AwareDatetime | None = None

    @property
    def key(self) -> str:
        """Partition key: the customer, or the diversion itself for anonymous walk-ins."""
        return self.customer_id or self.diversion_id


class DiversionOffered(DiversionChanged):
    """The rules offered another channel."""


class DiversionAccepted(DiversionChanged):
    """The customer accepted the offer."""


class DiversionDeclined(DiversionChanged):
    """The customer declined and took a ticket."""


class DiversionCompleted(DiversionChanged):
    """The transaction was done at the device or in the app."""


class DiversionExpired(DiversionChanged):
    """An accepted diversion was not completed in time."""
