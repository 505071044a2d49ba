"""Handlers of the events consumed by the ``scoring`` consumer group.

* ``branch.ticket.served`` -> one counter use of the customer (anonymous tickets ignored);
* ``selfservice.transaction.done`` (succeeded) -> one self-service use;
* ``mobile.draft.completed`` -> one mobile use;
* ``channel.diversion.accepted`` / ``declined`` -> the customer's answer on the channel
  (offers to anonymous walk-ins and to the counter are ignored).

Each updates the profile and refreshes the customer's propensity in the consumer's
transaction; an event goes out only on a material move (:mod:`..domain.scoring`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.consumer import Handler
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.payloads.devices import DeviceTransactionDone
from counterflow_shared.events.payloads.diversions import DiversionChanged
from counterflow_shared.events.payloads.mobile import DraftCompleted
from counterflow_shared.events.payloads.tickets import TicketServed
from counterflow_scoring.domain import scoring
from counterflow_scoring.domain.propensity import channel_of

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


def handlers(runtime: "ServiceRuntime") -> Mapping[str, Handler]:
    """CloudEvents type -> handler for this service's consumer group."""
    settings = runtime.settings

    async def ticket_served(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, TicketServed)
        if payload.customer_id:
            await scoring.record_channel_use(session, runtime.publish, settings, customer_id=payload.customer_id, channel="counter", at=payload.occurred_at)

    async def device_transaction(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, DeviceTransactionDone)
        if payload.customer_id and payload.succeeded:
            await scoring.record_channel_use(session, runtime.publish, settings, customer_id=payload.customer_id, channel="self_service", at=payload.occurred_at)

    async def draft_completed(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, DraftCompleted)
        await scoring.record_channel_use(session, runtime.publish, settings, customer_id=payload.customer_id, channel="mobile", at=payload.completed_at)

    def answer(accepted: bool) -> Handler:
        async def _handle(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> None:
            assert isinstance(payload, DiversionChanged)
            channel = channel_of(payload.channel)
            if payload.customer_id and channel:
                await scoring.record_diversion_answer(
                    session, runtime.publish, settings, diversion_id=payload.diversion_id, customer_id=payload.customer_id, channel=channel, accepted=accepted, at=payload.occurred_at
                )

        return _handle

    return {
        "branch.ticket.served.v1": ticket_served,
        "selfservice.transaction.done.v1": device_transaction,
        "mobile.draft.completed.v1": draft_completed,
        "channel.diversion.accepted.v1": answer(True),
        "channel.diversion.declined.v1": answer(False),
    }
