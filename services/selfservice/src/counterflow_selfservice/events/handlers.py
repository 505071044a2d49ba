"""Handlers of the events consumed by the ``selfservice`` consumer group:
``channel.diversions.v1`` (an accepted diversion to a device is expected there) and
``branch.directory.v1`` (branch names and default languages, for the fleet page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.catalog import entry_for_payload
from counterflow_shared.events.consumer import Handler
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.payloads.branches import BranchProfile
from counterflow_shared.events.payloads.diversions import DiversionAccepted
from counterflow_selfservice.domain import diversions
from counterflow_selfservice.domain.context import context_of
from counterflow_selfservice.persistence import branches

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


def handlers(runtime: "ServiceRuntime") -> Mapping[str, Handler]:
    """CloudEvents type -> handler for this service's consumer group. Completed and
    expired diversions (ours included) need nothing here and are skipped."""

    async def on_accepted(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, DiversionAccepted)
        await diversions.expect(await context_of(runtime, session), payload)
        return None

    async def on_profile(session: AsyncSession, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, BranchProfile)
        await branches.upsert_profile(session, payload)
        return None

    return {entry_for_payload(DiversionAccepted).type: on_accepted, entry_for_payload(BranchProfile).type: on_profile}
