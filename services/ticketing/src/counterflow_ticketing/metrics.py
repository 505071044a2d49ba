"""Business gauges and counters of the branches, sampled from the ticketing database.

* ``counterflow_queue_waiting_tickets{branch, service_type}`` and
  ``counterflow_queue_estimated_wait_seconds{branch, service_type}``: the branch load
  snapshot (:func:`counterflow_ticketing.domain.load.snapshot`, the figures kiosks and
  the mobile app show; docs/wait-estimation.md); the estimate is absent while unknown
  (no open counter able to serve the type).
* ``counterflow_branch_sla_share{branch}``: share of the customers called in the last
  ``sla_window_s`` whose wait was at most ``sla_target_s`` (absent when nobody was
  called); ``counterflow_branch_sla_target_seconds`` is that target.
* ``counterflow_branch_walkouts{branch}``: tickets that ended as ``no_show`` (called
  and not there: the customer walked out) in the last ``sla_window_s``.
* ``counterflow_diversions_total{rule, channel, stage}``: diversions offered, accepted
  (accepted, then completed or expired) and completed, per rule and target channel,
  counted from the ``diversions`` table (monotonic: rows are never deleted).

Labels are branch ids, service types, rule ids and channels (configuration), never
customer or ticket ids.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import Gauge
from sqlalchemy import case, func, select

from counterflow_ticketing.domain.context import ctx_for
from counterflow_ticketing.domain.load import snapshot
from counterflow_ticketing.persistence import branches_repo
from counterflow_ticketing.persistence.tables import diversions, tickets

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

WAITING = Gauge("counterflow_queue_waiting_tickets", "Tickets waiting, by branch and service type.", ["branch", "service_type"])
ESTIMATED_WAIT = Gauge("counterflow_queue_estimated_wait_seconds", "Expected wait of a ticket issued now (seconds), by branch and service type.", ["branch", "service_type"])
SLA_SHARE = Gauge("counterflow_branch_sla_share", "Share of customers called within the SLA target over the SLA window (0-1), by branch.", ["branch"])
SLA_TARGET = Gauge("counterflow_branch_sla_target_seconds", "The SLA target wait (seconds) behind counterflow_branch_sla_share.")
WALKOUTS = Gauge("counterflow_branch_walkouts", "Tickets ended as no-show (walked out) over the SLA window, by branch.", ["branch"])
DIVERSIONS = Gauge("counterflow_diversions_total", "Diversions offered, accepted and completed since the start, by rule and channel (a counter read from the database).", ["rule", "channel", "stage"])

#: Statuses a diversion has once the customer accepted it (docs/rules.md).
ACCEPTED = ("accepted", "completed", "expired")


async def sample_branches(runtime: ServiceRuntime) -> None:
    """Set every branch gauge: one load snapshot per active branch, then one query for
    walk-outs and one for the diversion funnel."""
    ctx = await ctx_for(runtime)
    window_start = ctx.now - timedelta(seconds=ctx.settings.sla_window_s)
    waiting: dict[tuple[str, str], float] = {}
    waits: dict[tuple[str, str], float] = {}
    shares: dict[str, float] = {}
    async with runtime.sessions() as session, session.begin():
        branch_ids = [b.branch_id for b in await branches_repo.list_branches(session) if b.active]
        for branch_id in branch_ids:
            snap = await snapshot(session, ctx, branch_id)
            for load in snap.services:
                waiting[(branch_id, load.service_type)] = load.waiting
                if load.estimated_wait_s is not None:
                    waits[(branch_id, load.service_type)] = load.estimated_wait_s
            if snap.sla_share is not None:
                shares[branch_id] = snap.sla_share
        walkouts = dict(
            (await session.execute(select(tickets.c.branch_id, func.count()).where(tickets.c.status == "no_show", tickets.c.finished_at >= window_start).group_by(tickets.c.branch_id))).all()
        )
        funnel = (
            await session.execute(
                select(
                    diversions.c.rule_id,
                    diversions.c.channel,
                    func.count(),
                    func.sum(case((diversions.c.status.in_(ACCEPTED), 1), else_=0)),
                    func.sum(case((diversions.c.status == "completed", 1), else_=0)),
                ).group_by(diversions.c.rule_id, diversions.c.channel)
            )
        ).all()
    _replace(WAITING, waiting)
    _replace(ESTIMATED_WAIT, waits)
    _replace(SLA_SHARE, {(b,): v for b, v in shares.items()})
    _replace(WALKOUTS, {(b,): float(walkouts.get(b, 0)) for b in branch_ids})
    _replace(DIVERSIONS, {(rule, channel, stage): float(n or 0) for rule, channel, offered, accepted, completed in funnel for stage, n in (("offered", offered), ("accepted", accepted), ("completed", completed))})
    SLA_TARGET.set(ctx.settings.sla_target_s)


def _replace(gauge: Gauge, values: dict[tuple[str, ...], float]) -> None:
    """Set ``gauge`` to exactly ``values`` (series of branches gone are dropped)."""
    gauge.clear()
    for labels, value in values.items():
        gauge.labels(*labels).set(value)
