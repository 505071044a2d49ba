"""Diversion hand-off: a customer accepted "do it in the app" at the kiosk
(``channel.diversion.accepted`` with channel ``mobile``); a pre-filled draft (service
type, amount, payee when known) waits in the app. Completing it publishes
``mobile.draft.completed`` and ``channel.diversion.completed`` (which closes the
diversion in ticketing's accounting); a draft not completed by its ``expires_at`` becomes
``expired`` and ``mobile.draft.expired`` + ``channel.diversion.expired`` are published.

Amounts are :class:`decimal.Decimal` in major units of ``currency`` (ISO 4217) end to
end: the database column is an unconstrained ``numeric`` and JSON carries strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.diversions import DiversionAccepted
from counterflow_shared.events.payloads.mobile import DraftCompleted, DraftExpired
from counterflow_shared.money import amount_text, check_minor_unit
from counterflow_shared.web.problems import conflict, invalid, not_found
from counterflow_mobile_gateway.domain import handoffs
from counterflow_mobile_gateway.domain.notifications import NotificationKind, issue
from counterflow_mobile_gateway.events.fanout import Push
from counterflow_mobile_gateway.persistence import drafts as repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

MOBILE_CHANNEL = "mobile"


def draft_view(row: Any) -> dict[str, Any]:
    """JSON-ready draft; ``amount`` is a decimal string (``None`` when not known)."""
    amount: Decimal | None = row["amount"]
    return {
        "draft_id": row["draft_id"],
        "diversion_id": row["diversion_id"],
        "branch_id": row["branch_id"],
        "service_type": row["service_type"],
        "amount": amount_text(amount) if amount is not None else None,
        "currency": row["currency"],
        "payee": row["payee"],
        "status": row["status"],
        "expires_at": row["expires_at"].isoformat(),
        "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None,
        "created_at": row["created_at"].isoformat(),
    }


async def on_diversion_accepted(session: AsyncSession, runtime: "ServiceRuntime", event: DiversionAccepted, *, now: datetime) -> list[Push]:
    """Create the draft of an accepted mobile diversion (once per diversion) and tell the
    customer it is waiting. Diversions to other channels or of anonymous customers
    (no ``customer_id``: nobody to hand the draft to) are ignored."""
    if event.channel != MOBILE_CHANNEL or not event.customer_id:
        return []
    expires_at = event.expires_at or now + timedelta(seconds=runtime.settings.draft_ttl_s)
    row = await repo.add_draft(
        session,
        draft_id=str(uuid.uuid4()),
        diversion_id=event.diversion_id,
        customer_id=event.customer_id,
        branch_id=event.branch_id,
        service_type=event.service_type,
        amount=event.amount,
        currency=event.currency,
        payee=event.payee,
        status="waiting",
        expires_at=expires_at,
        created_at=now,
        accepted=event.model_dump(mode="json"),
    )
    if row is None:
        return []
    amount = f" of {format(event.amount, 'f')} {event.currency or ''}".rstrip() if event.amount is not None else ""
    note = await issue(
        session,
        runtime,
        customer_id=event.customer_id,
        kind=NotificationKind.DRAFT_WAITING,
        title="Finish in the app",
        body=f"Your {event.service_type.replace('_', ' ')}{amount} is ready to complete in the app.",
        data={"draft": row["draft_id"], "diversion_id": event.diversion_id},
        now=now,
    )
    return [Push(event.customer_id, "draft", draft_view(row)), note]


async def owned_draft(session: AsyncSession, *, customer_id: str, draft_id: str, for_update: bool = False) -> Any:
    """The draft if it belongs to ``customer_id``; 404 otherwise (also for others')."""
    row = await repo.get_draft(session, draft_id=draft_id, for_update=for_update)
    if row is None or row["customer_id"] != customer_id:
        raise not_found("draft", draft_id)
    return row


async def complete(
    session: AsyncSession,
    runtime: "ServiceRuntime",
    *,
    customer_id: str,
    draft_id: str,
    amount: Decimal | None,
    currency: str | None,
    payee: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Complete a waiting draft, optionally with the amount / currency / payee the
    customer confirmed or corrected; publishes ``mobile.draft.completed`` and the
    diversion's ``channel.diversion.completed`` (``completed_by="mobile"``).

    The draft row is locked, so of two concurrent completions one wins and the other
    gets 409 (with the same ``Idempotency-Key`` the second gets the first's answer).

    Raises:
        Problem: 404; 409 ``draft-completed`` / ``draft-expired``; 422 ``body.currency``
            when an amount has no currency, 422 ``body.amount`` when it has more decimals
            than the currency's ISO 4217 minor unit.
    """
    row = await owned_draft(session, customer_id=customer_id, draft_id=draft_id, for_update=True)
    if row["status"] == "completed":
        raise conflict("draft-completed", f"draft {draft_id} was already completed at {row['completed_at'].isoformat()}")
    if row["status"] == "expired" or row["expires_at"] <= now:
        raise conflict("draft-expired", f"draft {draft_id} expired at {row['expires_at'].isoformat()}")
    final_amount = amount if amount is not None else row["amount"]
    final_currency = currency or row["currency"]
    if final_amount is not None and not final_currency:
        raise invalid("body.currency", "an amount needs its ISO 4217 currency")
    if final_amount is not None:
        try:
            check_minor_unit(final_amount, final_currency)
        except ValueError as exc:  # e.g. "0.005" for a CZK draft: refused, never rounded
            raise invalid("body.amount" if amount is not None else "body.currency", str(exc)) from exc
    updated = await repo.update_draft(session, draft_id=draft_id, status="completed", amount=final_amount, currency=final_currency, payee=payee or row["payee"], completed_at=now)
    await runtime.publish(
        session,
        DraftCompleted(
            draft_id=draft_id,
            diversion_id=row["diversion_id"],
            customer_id=customer_id,
            service_type=row["service_type"],
            amount=final_amount,
            currency=final_currency,
            completed_at=now,
        ),
        time=now,
    )
    await handoffs.publish_closing(session, runtime, row["accepted"], completed=True, at=now, completed_by=MOBILE_CHANNEL)
    return draft_view(updated)


async def expire_overdue(session: AsyncSession, runtime: "ServiceRuntime", *, now: datetime) -> list[Push]:
    """Expire waiting drafts past ``expires_at`` (publishing ``mobile.draft.expired`` and the
    diversion's ``channel.diversion.expired`` at the draft's ``expires_at``)."""
    pushes = []
    for row in await repo.overdue(session, now=now):
        updated = await repo.update_draft(session, draft_id=row["draft_id"], status="expired")
        await runtime.publish(session, DraftExpired(draft_id=row["draft_id"], diversion_id=row["diversion_id"], customer_id=row["customer_id"], expired_at=now), time=now)
        await handoffs.publish_closing(session, runtime, row["accepted"], completed=False, at=row["expires_at"])
        pushes.append(Push(row["customer_id"], "draft", draft_view(updated)))
    return pushes


async def list_drafts(session: AsyncSession, *, customer_id: str) -> list[dict[str, Any]]:
    """The customer's drafts, newest first."""
    return [draft_view(r) for r in await repo.list_for_customer(session, customer_id=customer_id)]
