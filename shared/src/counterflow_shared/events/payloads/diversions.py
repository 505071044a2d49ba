"""``channel.diversions.v1`` (key ``customer_id``, or the diversion id for anonymous
walk-ins): every step of a diversion offer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

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


def diversion_step(cls: type[DiversionChanged], d: Any, *, at: datetime, **extra: Any) -> DiversionChanged:
    """A payload of type ``cls`` for the stored diversion ``d`` (any object with the
    attributes ``diversion_id``, ``branch_id``, ``customer_id``, ``service_type``,
    ``channel``, ``device_id``, ``amount`` (Decimal or ``None``), ``currency``,
    ``rule_set_version``, ``rule_id``, ``status`` and optionally ``ticket_id``: a
    ticketing ``diversions`` row or a mobile-gateway ``app_offers`` row) at aware instant ``at``;
    ``extra`` sets the other fields (``expires_at``...)."""
    return cls(
        diversion_id=d.diversion_id,
        branch_id=d.branch_id,
        customer_id=d.customer_id,
        service_type=d.service_type,
        channel=d.channel,
        device_id=d.device_id,
        amount=d.amount,
        currency=d.currency,
        rule_set_version=d.rule_set_version,
        rule_id=d.rule_id,
        status=d.status,
        ticket_id=getattr(d, "ticket_id", None),
        occurred_at=at,
        **extra,
    )


def closing_step(cls: type[DiversionChanged], accepted: dict[str, Any], *, at: datetime, **extra: Any) -> DiversionChanged:
    """The ``completed`` / ``expired`` step (``cls``) of a diversion from its stored
    ``accepted`` step (``DiversionAccepted.model_dump(mode="json")``), at aware instant
    ``at``; ``extra`` sets ``transaction_id``, ``completed_by``... The status follows
    ``cls`` (:class:`DiversionCompleted` -> ``completed``, else ``expired``).

    Raises:
        pydantic.ValidationError: ``accepted`` is not a diversion step.
    """
    status = DiversionStatus.COMPLETED if issubclass(cls, DiversionCompleted) else DiversionStatus.EXPIRED
    return cls.model_validate({**accepted, "status": status.value, "occurred_at": at.isoformat(), **extra})
