"""Background loop publishing branch load snapshots (see :mod:`..domain.load`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from counterflow_ticketing.domain.context import ctx_for
from counterflow_ticketing.domain.load import publish_if_due
from counterflow_ticketing.persistence import load_repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


async def publish_snapshots_once(runtime: "ServiceRuntime") -> int:
    """One round over the active branches that changed since they were last checked or
    whose snapshot is due (:func:`load_repo.changed_branches`, one query); returns how many
    snapshots were published. An unchanged branch costs nothing until it is due."""
    ctx = await ctx_for(runtime)
    due_before = ctx.now - timedelta(seconds=runtime.settings.load_snapshot_interval_s)  # type: ignore[attr-defined]
    async with runtime.autocommit.connect() as conn:
        branch_ids = await load_repo.changed_branches(conn, now=ctx.now, due_before=due_before)  # type: ignore[arg-type]
    published = 0
    for branch_id in branch_ids:
        async with runtime.sessions() as session, session.begin():
            published += await publish_if_due(session, await ctx_for(runtime), branch_id)
    return published


async def load_snapshot_loop(runtime: "ServiceRuntime") -> None:
    """Publish snapshots every ``load_check_interval_s`` seconds until cancelled."""
    while True:
        await publish_snapshots_once(runtime)
        await asyncio.sleep(runtime.settings.load_check_interval_s)  # type: ignore[attr-defined]
