"""Branch information for the app, from the ``branch.directory.v1`` and
``branch.load.v1`` read models (no call to ticketing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.branches import BranchLoadSnapshot, BranchProfile
from counterflow_shared.web.problems import Problem, invalid, not_found
from counterflow_mobile_gateway.persistence import branches as repo


async def record_profile(session: AsyncSession, profile: BranchProfile) -> None:
    """Keep the newest profile of a branch (older, redelivered ones are ignored)."""
    await repo.upsert_profile(session, branch_id=profile.branch_id, profile=profile.model_dump(mode="json"), updated_at=profile.updated_at)


async def record_load(session: AsyncSession, snapshot: BranchLoadSnapshot) -> None:
    """Keep the newest load snapshot of a branch."""
    await repo.upsert_load(session, branch_id=snapshot.branch_id, snapshot=snapshot.model_dump(mode="json"), at=snapshot.at)


async def profile_of(session: AsyncSession, branch_id: str, *, for_update: bool = False) -> BranchProfile:
    """The known profile of ``branch_id``.

    Raises:
        Problem: 404 when no profile of that branch has arrived.
    """
    raw = await repo.get_profile(session, branch_id=branch_id, for_update=for_update)
    if raw is None:
        raise not_found("branch", branch_id)
    return BranchProfile.model_validate(raw)


def require_service(profile: BranchProfile, service_type: str, *, field: str = "body.service_type") -> None:
    """Raise 422 naming ``field`` unless the branch is active and offers ``service_type``."""
    if not profile.active:
        raise Problem(409, "branch-inactive", "Branch is not active", f"branch {profile.branch_id} takes no customers now")
    if service_type not in {s.service_type for s in profile.services}:
        raise invalid(field, f"branch {profile.branch_id} does not offer {service_type!r}")


def is_open(profile: BranchProfile, at: datetime) -> bool:
    """Whether instant ``at`` falls in one of the branch's local opening intervals."""
    zone = ZoneInfo(profile.time_zone)
    local = at.astimezone(zone)
    for day in (local.date(), local.date() - timedelta(days=1)):
        if day in profile.closed_days:
            continue
        for iv in profile.opening_hours:
            if iv.weekday != day.weekday():
                continue
            start = datetime.combine(day, iv.opens, tzinfo=zone)
            end_day = day + timedelta(days=1) if iv.closes <= iv.opens else day
            end = datetime.combine(end_day, iv.closes, tzinfo=zone)
            if start.astimezone(UTC) <= at.astimezone(UTC) < end.astimezone(UTC):
                return True
    return False


def branch_view(profile: BranchProfile, load: Any | None, *, now: datetime) -> dict[str, Any]:
    """What the app shows of a branch: opening hours in local time (``HH:MM`` in the
    branch's zone, ISO weekday - 1), open now, and per service the estimated wait in
    seconds from the last load snapshot (``None`` when unknown)."""
    loads = {}
    load_at = None
    if load is not None:
        snapshot = BranchLoadSnapshot.model_validate(load["snapshot"])
        loads = {s.service_type: s for s in snapshot.services}
        load_at = snapshot.at
    services = []
    for offer in profile.services:
        sl = loads.get(offer.service_type)
        services.append(
            {
                "service_type": offer.service_type,
                "name": offer.name,
                "waiting": sl.waiting if sl else None,
                "estimated_wait_s": sl.estimated_wait_s if sl else None,
                "open_counters": sl.open_counters if sl else None,
            }
        )
    return {
        "branch_id": profile.branch_id,
        "name": profile.name,
        "time_zone": profile.time_zone,
        "active": profile.active,
        "open_now": profile.active and is_open(profile, now),
        "opening_hours": [{"weekday": iv.weekday, "opens": iv.opens.strftime("%H:%M"), "closes": iv.closes.strftime("%H:%M")} for iv in profile.opening_hours],
        "closed_days": [d.isoformat() for d in profile.closed_days],
        "appointment_slot_minutes": profile.appointment_slot_minutes,
        "services": services,
        "load_at": load_at.isoformat() if load_at else None,
    }


async def list_branches(session: AsyncSession, *, now: datetime) -> list[dict[str, Any]]:
    """Every known branch with its current waits."""
    out = []
    for raw in await repo.list_profiles(session):
        profile = BranchProfile.model_validate(raw)
        out.append(branch_view(profile, await repo.get_load(session, branch_id=profile.branch_id), now=now))
    return out


async def get_branch(session: AsyncSession, branch_id: str, *, now: datetime) -> dict[str, Any]:
    """One branch with its current waits; 404 when unknown."""
    profile = await profile_of(session, branch_id)
    return branch_view(profile, await repo.get_load(session, branch_id=branch_id), now=now)


async def load_snapshot(session: AsyncSession, branch_id: str) -> BranchLoadSnapshot | None:
    """The last ``branch.load.v1`` snapshot of ``branch_id``, or ``None``."""
    load = await repo.get_load(session, branch_id=branch_id)
    return None if load is None else BranchLoadSnapshot.model_validate(load["snapshot"])


def service_wait(snapshot: BranchLoadSnapshot | None, service_type: str) -> float | None:
    """Estimated counter wait (seconds) of ``service_type`` in ``snapshot``, or ``None``."""
    for s in snapshot.services if snapshot is not None else ():
        if s.service_type == service_type:
            return s.estimated_wait_s
    return None

