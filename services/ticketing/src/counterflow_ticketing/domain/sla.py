"""SLA per branch and service type (issue 17): targets set through the operations API,
the current SLA share, walk-outs and waits read through a staff API, and the branch share
the load snapshots and the rules use.

The SLA is the share of customers called within ``target_s`` seconds of taking their
ticket, among those called in the last ``window_s`` seconds. A target set for a service
type wins over the branch default (``"*"``), which wins over the service settings
``sla_target_s`` / ``sla_window_s`` (600 s / 3,600 s: the bank's usual 10-minute target
over the last hour)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import invalid
from counterflow_ticketing.domain.context import Ctx, after_commit, branch_load, remember_branch_load
from counterflow_ticketing.domain.queue import require_branch
from counterflow_ticketing.persistence import branches_repo, sla_repo


def _share(ok: int, total: int) -> float | None:
    return round(ok / total, 4) if total else None


async def effective_targets(session: AsyncSession, ctx: Ctx, branch_id: str) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    """``(per service type {st: (target_s, window_s)}, branch default (target_s, window_s))``."""
    rows = await sla_repo.targets(session, branch_id)
    default = rows.pop(sla_repo.DEFAULT, (ctx.settings.sla_target_s, ctx.settings.sla_window_s))
    return rows, default


def targets_view(branch_id: str, per_type: dict[str, tuple[float, float]], default: tuple[float, float]) -> dict[str, Any]:
    """JSON-ready targets: ``default`` and ``service_types`` (``{"target_s", "window_s"}``)."""
    return {
        "branch_id": branch_id,
        "default": {"target_s": default[0], "window_s": default[1]},
        "service_types": {st: {"target_s": t, "window_s": w} for st, (t, w) in sorted(per_type.items())},
    }


async def get_targets(session: AsyncSession, ctx: Ctx, branch_id: str) -> dict[str, Any]:
    """The branch's SLA targets (404 for an unknown branch)."""
    await require_branch(session, branch_id)
    per_type, default = await effective_targets(session, ctx, branch_id)
    return targets_view(branch_id, per_type, default)


async def set_targets(session: AsyncSession, ctx: Ctx, staff: StaffPrincipal, branch_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Replace the branch's targets by ``spec`` (``default`` and ``service_types``, each
    ``{"target_s", "window_s"?}``; a service type without ``window_s`` takes the default's).

    Raises:
        Problem: 404 branch; 422 ``body.service_types.<code>`` for a service type the
            branch does not offer.
    """
    await require_branch(session, branch_id)
    offered = {st.service_type for st in await branches_repo.get_branch_services(session, branch_id)}
    given_default = spec.get("default") or {}
    default = (given_default.get("target_s", ctx.settings.sla_target_s), given_default.get("window_s", ctx.settings.sla_window_s))
    rows: dict[str, tuple[float, float]] = {}
    if spec.get("default") is not None:
        rows[sla_repo.DEFAULT] = default
    for st, target in (spec.get("service_types") or {}).items():
        if st not in offered:
            raise invalid(f"body.service_types.{st}", f"branch {branch_id} does not offer {st!r}")
        rows[st] = (target["target_s"], target.get("window_s") or default[1])
    await sla_repo.replace_targets(session, branch_id, rows, by=staff.subject, at=ctx.now)
    per_type = {k: v for k, v in rows.items() if k != sla_repo.DEFAULT}
    targets = target_map(per_type, default)
    # this process's estimates use the new targets at once; other processes read them
    # from Redis after the commit (or from the load loop's next measurement)
    remember_branch_load(ctx, branch_id, replace(branch_load(ctx, branch_id), sla_targets=targets))

    async def _share_targets() -> None:
        load = await ctx.readmodels.branch_load(branch_id)
        await ctx.readmodels.put_branch_load(branch_id, replace(load, sla_targets=targets))

    after_commit(session, _share_targets)
    return targets_view(branch_id, per_type, default)


def _split(per_type: dict[str, tuple[float, float]], default: tuple[float, float]) -> dict[str, Any]:
    return {"target_s": {st: t for st, (t, _) in per_type.items()}, "window_s": {st: w for st, (_, w) in per_type.items()}, "default_target_s": default[0], "default_window_s": default[1]}


def target_map(per_type: dict[str, tuple[float, float]], default: tuple[float, float]) -> dict[str, float]:
    """``{service_type: target_s, "*": default target_s}``: the form
    :attr:`BranchLoad.sla_targets` carries to every estimate."""
    return {sla_repo.DEFAULT: default[0], **{st: t for st, (t, _) in per_type.items()}}


async def branch_share(session: AsyncSession, ctx: Ctx, branch_id: str) -> tuple[float | None, tuple[float, float], dict[str, float]]:
    """The branch's SLA share now, each service type against its own target (``None``
    when nobody was called in the window), its default ``(target_s, window_s)`` and its
    :func:`target_map`; two statements (targets, called tickets). For the load snapshots
    and the rules."""
    per_type, default = await effective_targets(session, ctx, branch_id)
    rows = await sla_repo.called_stats(session, branch_id, now=ctx.now, **_split(per_type, default))
    return _share(sum(r[2] for r in rows), sum(r[1] for r in rows)), default, target_map(per_type, default)


async def branch_sla(session: AsyncSession, ctx: Ctx, branch_id: str) -> dict[str, Any]:
    """The branch's SLA now: ``sla_share`` (all service types, each against its own
    target; ``None`` when nobody was called in the window), ``called``,
    ``within_target``, ``walk_outs`` (no-shows + cancelled), and ``services``: per service
    type the target, window, the same counts and share, ``mean_wait_s`` / ``p90_wait_s``
    (issue to call), ``no_shows``, ``cancelled``, ``waiting`` and ``longest_wait_s`` now."""
    per_type, default = await effective_targets(session, ctx, branch_id)
    stats = await sla_repo.measured(session, branch_id, now=ctx.now, **_split(per_type, default))
    services = []
    for st in sorted({s.service_type for s in await branches_repo.get_branch_services(session, branch_id)} | stats.keys()):
        s = stats.get(st) or {"called": 0, "within_target": 0, "mean_wait_s": None, "p90_wait_s": None, "no_shows": 0, "cancelled": 0, "waiting": 0, "longest_wait_s": None}
        target, window = per_type.get(st, default)
        services.append({"service_type": st, "target_s": target, "window_s": window, **s, "sla_share": _share(s["within_target"], s["called"]), "walk_outs": s["no_shows"] + s["cancelled"]})
    called = sum(s["called"] for s in services)
    ok = sum(s["within_target"] for s in services)
    return {
        "branch_id": branch_id,
        "at": ctx.now.isoformat(),
        "sla_share": _share(ok, called),
        "called": called,
        "within_target": ok,
        "walk_outs": sum(s["walk_outs"] for s in services),
        "waiting": sum(s["waiting"] for s in services),
        "services": services,
    }


async def read_branch_sla(session: AsyncSession, ctx: Ctx, branch_id: str) -> dict[str, Any]:
    """:func:`branch_sla` of an active branch (404 otherwise)."""
    await require_branch(session, branch_id)
    return await branch_sla(session, ctx, branch_id)
