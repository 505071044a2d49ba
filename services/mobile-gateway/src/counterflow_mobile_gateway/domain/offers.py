"""Channel offers made to the app instead of a remote ticket (a diversion on
``channel.diversions.v1``, like ticketing's kiosk offers).

Life cycle: ``offered`` (``channel.diversion.offered`` published) -> ``accepted`` (the
customer takes the other channel: ``channel.diversion.accepted`` with ``expires_at``; for
a ``mobile`` hand-off the gateway's own consumer then creates the pre-filled draft, an
``appointment`` offer is followed by a booking through ``/v1/appointments``) or
``declined`` (the customer wants the counter after all: ``channel.diversion.declined`` and
the remote ticket is requested, without a second decision). The diversion is closed by
``channel.diversion.completed`` / ``.expired`` (draft completed or expired).

Amounts are :class:`decimal.Decimal` in major units of ``currency``; JSON carries strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads import diversions as dv
from counterflow_shared.events.payloads.diversions import diversion_step
from counterflow_shared.money import amount_text
from counterflow_shared.rules import Decision
from counterflow_shared.web.problems import conflict, not_found
from counterflow_mobile_gateway.domain import tickets
from counterflow_mobile_gateway.persistence import offers as repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


def offer_view(row: Row) -> dict[str, Any]:
    """JSON-ready offer: ``diversion_id``, ``status``, ``channel`` (``mobile``,
    ``appointment``, or a device kind), ``device_id``, ``amount`` (decimal string or
    ``None``), ``fee_notice``, ``message``, ``explanation``, ``rule_set_version``,
    ``rule_id``, ``request_id`` (the remote ticket requested on decline), times ISO 8601."""
    return {
        "diversion_id": row.diversion_id,
        "status": row.status,
        "branch_id": row.branch_id,
        "service_type": row.service_type,
        "channel": row.channel,
        "device_id": row.device_id,
        "amount": None if row.amount is None else amount_text(row.amount),
        "currency": row.currency,
        "fee_notice": row.fee_notice,
        "message": row.message,
        "explanation": row.explanation,
        "offer_ttl_s": row.offer_ttl_s,
        "rule_set_version": row.rule_set_version,
        "rule_id": row.rule_id,
        "request_id": row.request_id,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


async def record_offer(
    session: AsyncSession,
    runtime: "ServiceRuntime",
    decision: Decision,
    *,
    customer_id: str,
    branch_id: str,
    service_type: str,
    amount: Decimal | None,
    currency: str | None,
    travel_time_s: float | None,
    now: datetime,
) -> dict[str, Any]:
    """Store the offer of ``decision`` and publish ``channel.diversion.offered``."""
    row = await repo.add_offer(
        session,
        diversion_id=str(uuid.uuid4()),
        customer_id=customer_id,
        branch_id=branch_id,
        service_type=service_type,
        channel=decision.channel,
        device_id=decision.device_id,
        amount=amount,
        currency=currency,
        rule_set_version=decision.rule_set_version,
        rule_id=decision.rule_id,
        status=str(dv.DiversionStatus.OFFERED),
        fee_notice=decision.fee_notice,
        message=decision.message,
        explanation=decision.explanation,
        offer_ttl_s=decision.offer_ttl_s,
        travel_time_s=travel_time_s,
        created_at=now,
    )
    await runtime.publish(session, diversion_step(dv.DiversionOffered, row, at=now))
    return offer_view(row)


async def _open_offer(session: AsyncSession, *, customer_id: str, diversion_id: str) -> Row:
    row = await repo.get_offer(session, diversion_id=diversion_id, for_update=True)
    if row is None or row.customer_id != customer_id:
        raise not_found("offer", diversion_id)
    if row.status != dv.DiversionStatus.OFFERED:
        raise conflict("offer-decided", f"offer {diversion_id} is already {row.status}", current_status=row.status)
    return row


async def get_offer(session: AsyncSession, *, customer_id: str, diversion_id: str) -> dict[str, Any]:
    """One of the customer's offers.

    Raises:
        Problem: 404 when unknown or someone else's.
    """
    row = await repo.get_offer(session, diversion_id=diversion_id)
    if row is None or row.customer_id != customer_id:
        raise not_found("offer", diversion_id)
    return offer_view(row)


async def accept(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, diversion_id: str, now: datetime) -> dict[str, Any]:
    """The customer takes the offered channel: ``channel.diversion.accepted`` with
    ``expires_at`` = now + the rule's ``offer_ttl_s`` (else the gateway's ``draft_ttl_s``).

    Raises:
        Problem: 404 not the customer's offer; 409 ``offer-decided`` when already answered.
    """
    await _open_offer(session, customer_id=customer_id, diversion_id=diversion_id)
    row = await repo.update_offer(session, diversion_id=diversion_id, status=str(dv.DiversionStatus.ACCEPTED), decided_at=now)
    expires_at = now + timedelta(seconds=row.offer_ttl_s or runtime.settings.draft_ttl_s)
    await runtime.publish(session, diversion_step(dv.DiversionAccepted, row, at=now, expires_at=expires_at))
    return {"kind": "diverted", "offer": offer_view(row), "expires_at": expires_at.isoformat()}


async def decline(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, diversion_id: str, now: datetime) -> dict[str, Any]:
    """The customer wants the counter after all: the remote ticket is requested (no second
    decision) and ``channel.diversion.declined`` published.

    Raises:
        Problem: 404 not the customer's offer; 409 ``offer-decided``; the errors of
            :func:`tickets.request_remote_ticket` (409 ``remote-ticket-limit``...), in which
            case the offer stays open.
    """
    row = await _open_offer(session, customer_id=customer_id, diversion_id=diversion_id)
    ticket = await tickets.request_remote_ticket(
        session, runtime, customer_id=customer_id, branch_id=row.branch_id, service_type=row.service_type, travel_time_s=row.travel_time_s, now=now
    )
    row = await repo.update_offer(session, diversion_id=diversion_id, status=str(dv.DiversionStatus.DECLINED), decided_at=now, request_id=ticket["id"])
    await runtime.publish(session, diversion_step(dv.DiversionDeclined, row, at=now))
    return {"kind": "ticket", **ticket, "offer": offer_view(row)}
