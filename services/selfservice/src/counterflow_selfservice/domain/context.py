"""What a domain operation works with: the request's session, the publisher of the
service (outbox, same transaction), the settings and the current time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_selfservice.settings import SelfServiceSettings

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

#: ``publish(session, *payloads)``: writes events to the outbox in ``session``'s transaction.
Publish = Callable[..., Awaitable[Any]]


@dataclass
class Ctx:
    """One unit of work. Domain code never commits: the request (or the consumed event,
    or the background round) owns the transaction."""

    session: AsyncSession
    publish: Publish
    settings: SelfServiceSettings
    now: datetime


async def context_of(runtime: "ServiceRuntime", session: AsyncSession) -> Ctx:
    """The unit of work of ``session`` in this service's runtime, at the domain clock's
    instant (``runtime.clock``, one reading); its events carry that instant as envelope
    ``time``.

    Raises:
        counterflow_shared.clock.ClockNotSet: the simulated clock has no instant (503).
    """
    settings = runtime.settings
    assert isinstance(settings, SelfServiceSettings)
    now = await runtime.clock.now()
    return Ctx(session=session, publish=partial(runtime.publish, time=now), settings=settings, now=now)
