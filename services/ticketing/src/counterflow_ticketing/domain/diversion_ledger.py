"""Ticketing's accounting of diversions (issue 17): every step of
``channel.diversions.v1`` moves a diversion row forward, whoever published it (the
kiosk here, the app in the mobile gateway, a device in selfservice), so per-rule rates
(:func:`~counterflow_ticketing.domain.rules_outcomes.completion_rates`) cover every
channel and every accepted diversion ends exactly once.

A diversion's status only moves forward through the ranks

    offered (0) -> accepted | declined (1) -> expired (2) -> completed (3)

so steps delivered twice or in any order end in the same state: ``completed`` when any
completion arrived (a completed transaction is a fact; an expiry is only a timeout, and
the device or app may report a completion after the sweep that expired it), else
``expired`` when an expiry arrived, else the answer, else ``offered``. A step for a
diversion not yet known (its earlier steps are late) creates the row. A declined offer is
never closed (it produced a ticket, nothing to follow). See ADR 0170.

Ticketing is also the backstop: :func:`expire_abandoned` expires an accepted diversion
that nobody closed ``diversion_grace_s`` after its ``expires_at``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads import diversions as dv
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.persistence import tickets_repo

#: Which current statuses a step of each status may replace.
_REPLACES: dict[str, frozenset[str]] = {
    "offered": frozenset(),
    "accepted": frozenset({"offered"}),
    "declined": frozenset({"offered"}),
    "expired": frozenset({"offered", "accepted"}),
    "completed": frozenset({"offered", "accepted", "expired"}),
}

CLOSED = frozenset({"completed", "expired"})


def _times(p: dv.DiversionChanged) -> dict[str, object]:
    status = p.status.value
    if status in CLOSED:
        return {"closed_at": p.occurred_at}
    if status == "accepted":
        return {"decided_at": p.occurred_at, "expires_at": p.expires_at}
    if status == "declined":
        return {"decided_at": p.occurred_at}
    return {}


async def apply_step(session: AsyncSession, p: dv.DiversionChanged) -> bool:
    """Apply one step of a diversion in the consumer's transaction; returns whether the
    stored status changed. The row is locked, so concurrent steps of one diversion are
    applied one after the other."""
    status = p.status.value
    inserted = await tickets_repo.insert_diversion_once(
        session,
        {
            "diversion_id": p.diversion_id,
            "branch_id": p.branch_id,
            "kiosk_id": None,
            "customer_id": p.customer_id,
            "service_type": p.service_type,
            "channel": p.channel,
            "device_id": p.device_id,
            "amount": p.amount,
            "currency": p.currency,
            "rule_set_version": p.rule_set_version,
            "rule_id": p.rule_id,
            "status": status,
            "ticket_id": p.ticket_id,
            "request": {},
            "created_at": p.occurred_at,
            **_times(p),
        },
    )
    if inserted:
        return True
    d = await tickets_repo.get_diversion(session, p.diversion_id, lock=True)
    if d is None or d.status not in _REPLACES[status]:
        return False
    values: dict[str, object] = {"status": status, **_times(p)}
    if status in ("accepted", "declined") and p.ticket_id:
        values["ticket_id"] = p.ticket_id
    await tickets_repo.update_diversion(session, p.diversion_id, values)
    return True


async def expire_abandoned(session: AsyncSession, ctx: Ctx) -> int:
    """The backstop: an accepted diversion nobody closed ``diversion_grace_s`` seconds
    after its ``expires_at`` (its follower lost it, or was down all that time) is expired
    here at its ``expires_at``, and ``channel.diversion.expired`` published, so that every
    accepted diversion ends. A completion arriving later still wins. Returns how many."""
    rows = await tickets_repo.abandoned_diversions(session, before=ctx.now - timedelta(seconds=ctx.settings.diversion_grace_s))
    for d in rows:
        row = await tickets_repo.update_diversion(session, d.diversion_id, {"status": "expired", "closed_at": d.expires_at})
        await ctx.publish(session, dv.diversion_step(dv.DiversionExpired, row, at=d.expires_at, expires_at=d.expires_at))
    return len(rows)
