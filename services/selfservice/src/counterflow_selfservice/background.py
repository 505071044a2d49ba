"""Background loops of the selfservice service (run with the embedded workers):
the offline watchdog (missed heartbeats) and the expiry of expected diversions.

Each round is one transaction; rows are claimed ``FOR UPDATE SKIP LOCKED``, so several
instances can run the loops at once without doing the same work twice.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from counterflow_shared.persistence.db import session_scope
from counterflow_selfservice.domain import diversions, reports
from counterflow_selfservice.domain.context import context_of

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


async def _rounds(runtime: "ServiceRuntime", work) -> None:  # noqa: ANN001 - (Ctx) -> awaitable of a sized result
    interval = runtime.settings.watchdog_interval_s  # type: ignore[attr-defined]
    while True:
        async with session_scope(runtime.sessions) as session:
            done = await work(await context_of(runtime, session))
        if not done:
            await asyncio.sleep(interval)


async def offline_watchdog(runtime: "ServiceRuntime") -> None:
    """Mark devices silent for ``heartbeat_timeout_s`` offline, every
    ``watchdog_interval_s`` seconds (immediately again while a round was full)."""
    await _rounds(runtime, lambda ctx: _full(reports.mark_silent_offline(ctx, limit=200), 200))


async def diversion_expiry(runtime: "ServiceRuntime") -> None:
    """Expire expected diversions past their expiry, every ``watchdog_interval_s`` seconds."""
    await _rounds(runtime, lambda ctx: _full(diversions.expire_due(ctx, limit=200), 200))


async def _full(work, limit: int) -> bool:  # noqa: ANN001 - awaitable of a list or a count
    result = await work
    count = result if isinstance(result, int) else len(result)
    return count >= limit
