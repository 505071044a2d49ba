"""Branch load snapshots on ``branch.load.v1`` (compacted): per service type the waiting
tickets, the estimated (median) wait of a priority-0 ticket issued now and the open
counters able to serve.

A snapshot is published when it changed materially since the last one (waiting count or
open counters changed, or an estimate moved by ``load_material_change_s`` seconds, or
became known/unknown), and at least every ``load_snapshot_interval_s`` seconds. The last
published signature is kept in ``load_snapshots``; the row is locked ``SKIP LOCKED`` so
several instances never publish the same branch's snapshot twice at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.branches import BranchLoadSnapshot, ServiceLoad
from counterflow_ticketing.domain import calendar
from counterflow_ticketing.domain import sla as sla_targets
from counterflow_ticketing.domain.context import Ctx, remember_branch_load
from counterflow_ticketing.domain.estimation import abandon_rate
from counterflow_ticketing.domain.waits import counter_pool, forecast
from counterflow_ticketing.persistence import branches_repo, load_repo, tickets_repo
from counterflow_ticketing.persistence.readmodels import BranchLoad

#: Window over which the leaving (abandonment) and overtaking (priority arrival) rates are measured.
ABANDON_WINDOW = timedelta(hours=4)


async def snapshot(session: AsyncSession, ctx: Ctx, branch_id: str) -> BranchLoadSnapshot:
    """The load of ``branch_id`` now (tickets of its current business day only); also stores the branch's abandonment rate and SLA
    share (:class:`BranchLoad`) in Redis, where every API instance reads them for its
    estimates and the rules hook (on Kubernetes this loop runs in the worker pods)."""
    left, exposure_s, prioritised = await tickets_repo.leaving_stats(session, branch_id, ctx.now - ABANDON_WINDOW, ctx.now)
    theta = abandon_rate(left, exposure_s)
    overtake = prioritised / ABANDON_WINDOW.total_seconds()
    sla, (sla_target_s, sla_window_s), targets = await sla_targets.branch_share(session, ctx, branch_id)
    load = BranchLoad(abandon_rate=theta, sla_share=sla, overtake_rate=overtake, sla_targets=targets)
    remember_branch_load(ctx, branch_id, load)
    await ctx.readmodels.put_branch_load(branch_id, load)
    branch = await branches_repo.get_branch(session, branch_id)
    day = calendar.business_date(ctx.now, branch.time_zone)
    pool = await counter_pool(session, branch_id, day)
    waiting_type = await tickets_repo.waiting_by_service_type(session, branch_id, day)
    services = []
    for st in await branches_repo.get_branch_services(session, branch_id):
        _, fc = forecast(pool, now=ctx.now, skill=st.skill, service_type=st.service_type, default_s=st.default_service_s, ahead=pool.waiting_by_skill.get(st.skill, 0), priority=0, abandon_rate_per_s=theta, overtake_rate_per_s=overtake, sla_s=load.sla_target_s(st.service_type, sla_target_s))
        services.append(ServiceLoad(service_type=st.service_type, waiting=waiting_type.get(st.service_type, 0), estimated_wait_s=None if fc is None else round(fc.p50_s, 1), open_counters=len(pool.able(st.skill))))
    return BranchLoadSnapshot(branch_id=branch_id, at=ctx.now, services=services, sla_share=sla, sla_target_s=sla_target_s, sla_window_s=sla_window_s)


def signature(s: BranchLoadSnapshot) -> dict[str, Any]:
    """What a material-change comparison looks at."""
    return {x.service_type: [x.waiting, x.open_counters, x.estimated_wait_s] for x in s.services}


def changed_materially(old: dict[str, Any], new: dict[str, Any], threshold_s: float) -> bool:
    """Whether ``new`` differs materially from ``old`` (see module docstring)."""
    if old.keys() != new.keys():
        return True
    for k, (waiting, counters, wait) in new.items():
        w0, c0, e0 = old[k]
        if waiting != w0 or counters != c0 or (wait is None) != (e0 is None):
            return True
        if wait is not None and abs(wait - e0) >= threshold_s:
            return True
    return False


async def publish_if_due(session: AsyncSession, ctx: Ctx, branch_id: str) -> bool:
    """Publish the branch's snapshot when it changed materially or is due; returns whether it did."""
    if not await load_repo.claim(session, branch_id):
        return False
    last = await load_repo.last(session, branch_id)
    snap = await snapshot(session, ctx, branch_id)
    sig = signature(snap)
    due = last is None or last.published_at > ctx.now or ctx.now - last.published_at >= timedelta(seconds=ctx.settings.load_snapshot_interval_s)
    if not due and not changed_materially(last.signature, sig, ctx.settings.load_material_change_s):
        await load_repo.checked(session, branch_id, ctx.now)
        return False
    await load_repo.record(session, branch_id, ctx.now, sig)
    await ctx.publish(session, snap)
    return True
