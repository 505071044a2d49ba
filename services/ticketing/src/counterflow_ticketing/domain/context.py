"""What a domain operation needs besides its session: the clock instant, the settings,
the event publisher and the read models. Built once per request or event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules.active import ActiveRuleSet
from counterflow_ticketing.persistence.readmodels import BranchLoad, ReadModels
from counterflow_ticketing.settings import TicketingSettings

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


@dataclass
class Ctx:
    """A domain operation's collaborators.

    Attributes:
        runtime: the service runtime (outbox publishing, Redis).
        now: aware UTC instant the operation happens at (one per operation).
    """

    runtime: "ServiceRuntime"
    now: datetime

    @property
    def settings(self) -> TicketingSettings:
        """The service settings."""
        return self.runtime.settings  # type: ignore[return-value]

    @property
    def readmodels(self) -> ReadModels:
        """The Redis read models."""
        return readmodels_of(self.runtime)

    async def publish(self, session: AsyncSession, *payloads: Any) -> None:
        """Write events to the outbox in ``session``'s transaction; their envelope
        ``time`` is the operation's instant :attr:`now`."""
        await self.runtime.publish(session, *payloads, time=self.now)


def readmodels_of(runtime: "ServiceRuntime") -> ReadModels:
    """The :class:`ReadModels` of a runtime (created once)."""
    rm = runtime.state.get("readmodels")
    if rm is None:
        rm = runtime.state["readmodels"] = ReadModels(runtime.redis, runtime.settings.redis_prefix)  # type: ignore[attr-defined]
    return rm


def active_rules_of(runtime: "ServiceRuntime") -> ActiveRuleSet:
    """The process's :class:`~counterflow_shared.rules.active.ActiveRuleSet` of scope
    ``global`` under the service's Redis prefix: the one rule-set read model ticketing
    and the mobile gateway share (atomic compare-and-set, compiled once per version;
    ADR 0154)."""
    rules = runtime.state.get("active_rules")
    if rules is None:
        rules = runtime.state["active_rules"] = ActiveRuleSet(runtime.redis, key_prefix=runtime.settings.redis_prefix)  # type: ignore[attr-defined]
    return rules


def remember_branch_load(ctx: Ctx, branch_id: str, load: BranchLoad) -> None:
    """Keep the branch's latest :class:`BranchLoad` (read from Redis on every kiosk request
    of the branch, or measured here by the load loop) for the estimates this process makes."""
    ctx.runtime.state.setdefault("branch_load", {})[branch_id] = load


def branch_load(ctx: Ctx, branch_id: str) -> BranchLoad:
    """The branch's :class:`BranchLoad` as this process last saw it (defaults before that)."""
    return ctx.runtime.state.get("branch_load", {}).get(branch_id) or BranchLoad()


async def ctx_for(runtime: "ServiceRuntime") -> Ctx:
    """A :class:`Ctx` at the runtime's domain clock (``runtime.clock``, one reading).

    Raises:
        counterflow_shared.clock.ClockNotSet: the simulated clock has no instant (503).
    """
    return Ctx(runtime=runtime, now=await runtime.clock.now())


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` (outside the database, e.g. a Redis publish) once ``session``'s
    transaction has committed; never when it rolls back."""
    actions = session.info.setdefault("after_commit_actions", [])
    actions.append(action)
    if session.info.get("after_commit_hooked"):
        return
    session.info["after_commit_hooked"] = True

    def _fire(_sync_session: Any) -> None:
        pending = session.info.pop("after_commit_actions", [])
        loop = asyncio.get_running_loop()
        for act in pending:
            task = loop.create_task(act())
            _background.add(task)
            task.add_done_callback(_background.discard)

    def _drop(_sync_session: Any) -> None:
        session.info.pop("after_commit_actions", None)

    event.listen(session.sync_session, "after_commit", _fire)
    event.listen(session.sync_session, "after_rollback", _drop)


_background: set[asyncio.Task] = set()
