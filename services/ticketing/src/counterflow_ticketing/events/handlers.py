"""Handlers of the events consumed by the ``ticketing`` consumer group, and the rebuild
of the Redis read models from the compacted topics.

Read-model writes (Redis) run after the handler's transaction committed (the consumer
runtime calls the returned function); ticket and appointment writes happen in the
handler's transaction together with the processed-event row, so a redelivered event has
no second effect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.catalog import CHANNEL_RULES, CUSTOMER_SCORES, SELFSERVICE_DEVICES
from counterflow_shared.events.consumer import Handler
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.payloads import devices, diversions, mobile, scores
from counterflow_shared.events.payloads.tickets import RemoteTicketRejected, TicketOrigin
from counterflow_shared.events.security import client_options
from counterflow_shared.readmodel import Model, ReadModelGuard, replay_compacted
from counterflow_shared.web.problems import Problem
from counterflow_ticketing.domain import diversion_ledger, feedback, queue, tier_changes
from counterflow_ticketing.domain.context import Ctx, active_rules_of, ctx_for, readmodels_of
from counterflow_ticketing.persistence import tickets_repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)
After = Callable[[], Awaitable[None]] | None


def handlers(runtime: "ServiceRuntime") -> Mapping[str, Handler]:
    """CloudEvents type -> handler for this service's consumer group."""
    rm = readmodels_of(runtime)

    async def on_score(s: AsyncSession, _e: Envelope, p: scores.CustomerScored) -> After:
        # waiting tickets gain a higher tier's priority in the consumer's transaction;
        # the read model (new decisions) follows once it commits
        await tier_changes.apply_tier(s, await ctx_for(runtime), customer_id=p.customer_id, tier=p.tier.value)
        return lambda: rm.put_score(p)

    async def on_device(_s: AsyncSession, _e: Envelope, p: BaseModel) -> After:
        return lambda: rm.put_device(p)  # type: ignore[arg-type]

    on_rules = active_rules_of(runtime).handler()

    async def on_remote_requested(s: AsyncSession, _e: Envelope, p: mobile.RemoteTicketRequested) -> After:
        await remote_ticket(s, await ctx_for(runtime), p)
        return None

    async def on_remote_cancelled(s: AsyncSession, _e: Envelope, p: mobile.RemoteTicketCancelled) -> After:
        t = await tickets_repo.get_ticket(s, p.ticket_id) if p.ticket_id else await tickets_repo.ticket_by_remote_request(s, p.request_id)
        if t is not None and t.status in ("waiting", "called"):
            await queue.cancel(s, await ctx_for(runtime), ticket_id=t.ticket_id)
        return None

    async def on_appointment(s: AsyncSession, _e: Envelope, p: mobile.AppointmentChanged) -> After:
        await tickets_repo.upsert_appointment(
            s,
            {"appointment_id": p.appointment_id, "branch_id": p.branch_id, "customer_id": p.customer_id, "service_type": p.service_type, "starts_at": p.starts_at, "ends_at": p.ends_at, "status": "cancelled" if isinstance(p, mobile.AppointmentCancelled) else "booked"},
        )
        return None

    async def on_feedback(s: AsyncSession, _e: Envelope, p: mobile.FeedbackGiven) -> After:
        # the first feedback of the customer's own served ticket counts; others are dropped
        t = await tickets_repo.get_ticket(s, p.ticket_id)
        if t is not None and t.customer_id == p.customer_id and t.status == "served":
            with contextlib.suppress(Problem):
                await feedback.give(s, await ctx_for(runtime), ticket=t, score=p.score, comment=p.comment, channel="app")
        return None

    async def on_diversion_step(s: AsyncSession, e: Envelope, p: diversions.DiversionChanged) -> After:
        if e.source != runtime.source or p.status.value in diversion_ledger.CLOSED:  # our own kiosk offers are recorded when made
            await diversion_ledger.apply_step(s, p)
        return None

    return {
        "customer.score.updated.v1": on_score,  # type: ignore[dict-item]
        "selfservice.device.state.v1": on_device,
        "channel.ruleset.activated.v1": on_rules,
        "mobile.remote_ticket.requested.v1": on_remote_requested,  # type: ignore[dict-item]
        "mobile.remote_ticket.cancelled.v1": on_remote_cancelled,  # type: ignore[dict-item]
        "mobile.appointment.booked.v1": on_appointment,  # type: ignore[dict-item]
        "mobile.appointment.rescheduled.v1": on_appointment,  # type: ignore[dict-item]
        "mobile.appointment.cancelled.v1": on_appointment,  # type: ignore[dict-item]
        "mobile.feedback.given.v1": on_feedback,  # type: ignore[dict-item]
        "channel.diversion.offered.v1": on_diversion_step,  # type: ignore[dict-item]
        "channel.diversion.accepted.v1": on_diversion_step,  # type: ignore[dict-item]
        "channel.diversion.declined.v1": on_diversion_step,  # type: ignore[dict-item]
        "channel.diversion.completed.v1": on_diversion_step,  # type: ignore[dict-item]
        "channel.diversion.expired.v1": on_diversion_step,  # type: ignore[dict-item]
    }


async def remote_ticket(session: AsyncSession, ctx: Ctx, p: mobile.RemoteTicketRequested) -> None:
    """Answer a remote ticket request: a ``TicketIssued`` carrying ``remote_request_id``,
    or ``RemoteTicketRejected`` with the reason (unknown/inactive branch, service type not
    offered). A request already answered is ignored. The gateway's decision carried by the
    request (``priority_boost``, ``route_to``) is applied to the ticket."""
    if await tickets_repo.ticket_by_remote_request(session, p.request_id) is not None:
        return
    try:
        await queue.require_branch(session, p.branch_id)
        await queue.offered_service(session, p.branch_id, p.service_type, field="service_type")
    except Problem as exc:
        await ctx.publish(session, RemoteTicketRejected(remote_request_id=p.request_id, branch_id=p.branch_id, customer_id=p.customer_id, reason=exc.detail or exc.title, occurred_at=ctx.now))
        return
    tier, _ = await ctx.readmodels.score(p.customer_id)
    await queue.issue_ticket(session, ctx, branch_id=p.branch_id, service_type=p.service_type, origin=TicketOrigin.REMOTE, customer_id=p.customer_id, tier=tier, remote_request_id=p.request_id, priority_boost=p.priority_boost, route_to=p.route_to)


def read_model_guard(runtime: "ServiceRuntime") -> ReadModelGuard:
    """The :class:`ReadModelGuard` of ticketing's Redis read models (customer scores,
    devices, active rule sets), created once per runtime; it also becomes the read
    models' guard so that decisions never run on lost state."""
    guard = runtime.state.get("readmodel_guard")
    if guard is not None:
        return guard
    rm = readmodels_of(runtime)
    s = runtime.settings
    rules_model = active_rules_of(runtime)
    applies = {
        CUSTOMER_SCORES.name: lambda _e, p: rm.put_score(p) if isinstance(p, scores.CustomerScored) else _noop(),
        SELFSERVICE_DEVICES.name: lambda _e, p: rm.put_device(p) if isinstance(p, devices.DeviceState) else _noop(),
    }
    # "built-v2": devices moved to one hash per branch (issue 15), so older markers must not count
    models = [
        Model(topic, rm.key("built-v2", s.topic(topic)), lambda full=s.topic(topic), apply=apply: replay_compacted(s.kafka_bootstrap_servers, full, apply, timeout_s=s.kafka_request_timeout_s * 4, kafka=client_options(s)))
        for topic, apply in applies.items()
    ]
    # the active rule set: the shared read model (ADR 0154), under its own marker
    models.append(rules_model.model(s.kafka_bootstrap_servers, s.topic(CHANNEL_RULES.name), kafka=client_options(s)))
    guard = runtime.state["readmodel_guard"] = rm.guard = ReadModelGuard(runtime.redis, models, wait_s=s.readmodel_wait_s)
    return guard


async def rebuild_read_models(runtime: "ServiceRuntime") -> None:
    """At start-up, rebuild each Redis read model from its compacted topic when its
    marker is missing (Redis new or flushed); afterwards :func:`watch_read_models` keeps
    checking."""
    await read_model_guard(runtime).ensure()


async def watch_read_models(runtime: "ServiceRuntime") -> None:
    """Background loop: notice lost read models and rebuild them while serving."""
    await read_model_guard(runtime).watch(runtime.settings.readmodel_check_s)


async def _noop() -> None:
    return None


async def seed(runtime: "ServiceRuntime") -> None:
    """At start-up, insert the missing standard service types."""
    from counterflow_ticketing.domain.branches import seed_catalog

    async with runtime.sessions() as session, session.begin():
        await seed_catalog(session)


