"""Background loop of the diversion backstop (see
:func:`counterflow_ticketing.domain.diversion_ledger.expire_abandoned`): every
``diversion_sweep_s`` seconds, one indexed query (``ix_diversions_open``) for accepted
diversions long past their expiry."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from counterflow_ticketing.domain import diversion_ledger
from counterflow_ticketing.domain.context import ctx_for

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


async def expire_abandoned_once(runtime: "ServiceRuntime") -> int:
    """One round in one transaction; returns how many diversions it expired."""
    ctx = await ctx_for(runtime)
    async with runtime.sessions() as session, session.begin():
        return await diversion_ledger.expire_abandoned(session, ctx)


async def diversion_backstop_loop(runtime: "ServiceRuntime") -> None:
    """Run :func:`expire_abandoned_once` until cancelled."""
    while True:
        await expire_abandoned_once(runtime)
        await asyncio.sleep(float(runtime.settings.diversion_sweep_s))  # type: ignore[attr-defined]
