"""Handlers of the events consumed by the ``mobile-gateway`` consumer group.

Each runs in the consumer's transaction (with the processed-event row, so a redelivered
event has no second effect) and returns the live messages to send through Redis after
the commit, never before: a customer is never told about a change that rolled back.
The Redis read models of the channel rules (active rule set, customer scores) are written
after the commit the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.consumer import Handler
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.rules.active import ACTIVATED_TYPE
from counterflow_mobile_gateway.domain import branches, channel, drafts, handoffs, tickets
from counterflow_mobile_gateway.events.fanout import Push, fanout_of

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

TICKET_EVENTS = (
    "branch.ticket.issued.v1",
    "branch.ticket.called.v1",
    "branch.ticket.recalled.v1",
    "branch.ticket.serving_started.v1",
    "branch.ticket.served.v1",
    "branch.ticket.no_show.v1",
    "branch.ticket.transferred.v1",
    "branch.ticket.priority_raised.v1",
    "branch.ticket.cancelled.v1",
    "branch.ticket.diverted.v1",
    "branch.ticket.expired.v1",
)


def handlers(runtime: "ServiceRuntime") -> Mapping[str, Handler]:
    """CloudEvents type -> handler for this service's consumer group."""

    def after(pushes: list[Push]) -> Callable[[], Awaitable[None]] | None:
        if not pushes:
            return None

        async def send() -> None:
            await fanout_of(runtime).publish(pushes)

        return send

    async def on_ticket(session: AsyncSession, envelope: Envelope, payload: BaseModel):
        return after(await tickets.on_ticket_event(session, runtime, payload, now=await runtime.clock.now()))  # type: ignore[arg-type]

    async def on_rejected(session: AsyncSession, envelope: Envelope, payload: BaseModel):
        return after(await tickets.on_remote_rejected(session, runtime, payload, now=await runtime.clock.now()))  # type: ignore[arg-type]

    async def on_profile(session: AsyncSession, envelope: Envelope, payload: BaseModel):
        await branches.record_profile(session, payload)  # type: ignore[arg-type]

    async def on_load(session: AsyncSession, envelope: Envelope, payload: BaseModel):
        await branches.record_load(session, payload)  # type: ignore[arg-type]

    async def on_accepted(session: AsyncSession, envelope: Envelope, payload: BaseModel):
        now = await runtime.clock.now()
        await handoffs.expect_booking(session, payload, now=now)  # type: ignore[arg-type]
        return after(await drafts.on_diversion_accepted(session, runtime, payload, now=now))  # type: ignore[arg-type]

    scores = channel.scores_of(runtime)

    async def on_score(session: AsyncSession, envelope: Envelope, payload: BaseModel):
        return lambda: scores.put(payload)  # type: ignore[arg-type]

    table: dict[str, Handler] = {t: on_ticket for t in TICKET_EVENTS}
    table.update(
        {
            "branch.remote_ticket.rejected.v1": on_rejected,
            "branch.profile.updated.v1": on_profile,
            "branch.load.snapshot.v1": on_load,
            "channel.diversion.accepted.v1": on_accepted,
            ACTIVATED_TYPE: channel.active_rules_of(runtime).handler(),
            "customer.score.updated.v1": on_score,
        }
    )
    return table
