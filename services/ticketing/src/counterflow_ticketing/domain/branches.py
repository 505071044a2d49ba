"""Branch set-up by operations staff: branches with their time zone, opening hours,
closed days, zones and offered services; the service-type catalog; counters; kiosks.
Every change of what other services know of a branch publishes ``branch.profile.updated``.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.auth import hash_secret
from counterflow_shared.web.problems import invalid, not_found
from counterflow_ticketing.domain import calendar
from counterflow_ticketing.domain.catalog import STANDARD_SERVICE_TYPES
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.events.publishers import branch_profile
from counterflow_ticketing.persistence import branches_repo


async def seed_catalog(session: AsyncSession) -> None:
    """Insert the standard service types that are missing (existing rows are kept)."""
    existing = {r.service_type for r in await branches_repo.list_service_types(session)}
    for spec in STANDARD_SERVICE_TYPES:
        if str(spec.code) not in existing:
            await branches_repo.upsert_service_type(
                session,
                {"service_type": str(spec.code), "name": spec.name, "prefix": spec.prefix, "skill": spec.skill, "handles_cash": spec.handles_cash, "zone": spec.zone, "default_service_s": spec.default_service_s},
            )


async def put_branch(session: AsyncSession, ctx: Ctx, *, branch_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a branch from ``spec`` (name, time_zone, opening_hours, closed_days,
    zones, services, max_wait_s, no_show_after_calls, appointment settings, active) and
    publish its profile.

    Raises:
        Problem: 422 naming ``body.time_zone``, ``body.opening_hours[i]`` or ``body.services``.
    """
    try:
        calendar.zone(spec["time_zone"])
    except ValueError as exc:
        raise invalid("body.time_zone", str(exc)) from exc
    for i, h in enumerate(spec["opening_hours"]):
        if h["closes"] <= h["opens"]:
            raise invalid(f"body.opening_hours.{i}", "closes must be after opens")
    catalog = {r.service_type for r in await branches_repo.list_service_types(session)}
    unknown = sorted(set(spec["services"]) - catalog)
    if unknown:
        raise invalid("body.services", f"unknown service types {unknown}")
    await branches_repo.upsert_branch(
        session,
        {
            "branch_id": branch_id,
            "name": spec["name"],
            "time_zone": spec["time_zone"],
            "closed_days": [d.isoformat() for d in spec["closed_days"]],
            "max_wait_s": spec.get("max_wait_s") or ctx.settings.default_max_wait_s,
            "no_show_after_calls": spec.get("no_show_after_calls") or ctx.settings.default_no_show_after_calls,
            "appointment_capacity_per_slot": spec.get("appointment_capacity_per_slot", 1),
            "appointment_slot_minutes": spec.get("appointment_slot_minutes", 15),
            "active": spec.get("active", True),
            "language": spec.get("language") or "en",
            "notify_at_position": spec.get("notify_at_position"),
            "updated_at": ctx.now,
        },
    )
    await branches_repo.replace_opening_hours(session, branch_id, spec["opening_hours"])
    await branches_repo.replace_zones(session, branch_id, spec["zones"])
    await branches_repo.replace_branch_services(session, branch_id, spec["services"])
    await publish_profile(session, ctx, branch_id)
    return await branch_view(session, branch_id)


async def publish_profile(session: AsyncSession, ctx: Ctx, branch_id: str) -> None:
    """Publish ``branch.profile.updated`` with the branch's current hours and services."""
    branch = await branches_repo.get_branch(session, branch_id)
    hours = list(await branches_repo.get_opening_hours(session, branch_id))
    services = list(await branches_repo.get_branch_services(session, branch_id))
    await ctx.publish(session, branch_profile(branch, hours, services, at=ctx.now))


async def branch_view(session: AsyncSession, branch_id: str) -> dict[str, Any]:
    """A branch with its opening hours, zones, services and counters.

    Raises:
        Problem: 404 unknown branch.
    """
    b = await branches_repo.get_branch(session, branch_id)
    if b is None:
        raise not_found("branch", branch_id)
    return {
        "branch_id": b.branch_id,
        "name": b.name,
        "time_zone": b.time_zone,
        "closed_days": b.closed_days,
        "max_wait_s": b.max_wait_s,
        "no_show_after_calls": b.no_show_after_calls,
        "appointment_capacity_per_slot": b.appointment_capacity_per_slot,
        "appointment_slot_minutes": b.appointment_slot_minutes,
        "active": b.active,
        "language": b.language,
        "notify_at_position": b.notify_at_position,
        "opening_hours": [{"weekday": h.weekday, "opens": h.opens.isoformat(), "closes": h.closes.isoformat()} for h in await branches_repo.get_opening_hours(session, branch_id)],
        "zones": [{"zone": z.zone, "name": z.name} for z in await branches_repo.get_zones(session, branch_id)],
        "services": [s.service_type for s in await branches_repo.get_branch_services(session, branch_id)],
        "counters": [counter_view(c) for c in await branches_repo.list_counters(session, branch_id)],
    }


def counter_view(c: Any) -> dict[str, Any]:
    """A counter as operations see it."""
    return {"counter_id": c.counter_id, "branch_id": c.branch_id, "name": c.name, "kind": c.kind, "zone": c.zone, "skills": c.skills, "active": c.active}


async def day_schedule(session: AsyncSession, branch_id: str, day: date) -> dict[str, Any]:
    """The UTC opening intervals and appointment slots of the branch's local ``day``."""
    b = await branches_repo.get_branch(session, branch_id)
    if b is None:
        raise not_found("branch", branch_id)
    hours = [calendar.Opening(h.weekday, h.opens, h.closes) for h in await branches_repo.get_opening_hours(session, branch_id)]
    closed = [date.fromisoformat(d) for d in b.closed_days]
    return {
        "branch_id": branch_id,
        "date": day.isoformat(),
        "time_zone": b.time_zone,
        "day_type": calendar.day_type(day, closed),
        "intervals": [{"opens": o.isoformat(), "closes": c.isoformat()} for o, c in calendar.opening_intervals(day, hours, closed, b.time_zone)],
        "slots": [s.isoformat() for s in calendar.slots(day, hours, closed, b.time_zone, b.appointment_slot_minutes)],
    }


async def put_counter(session: AsyncSession, *, branch_id: str, counter_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a counter of ``branch_id``.

    Raises:
        Problem: 404 branch; 422 ``body.counter_id`` when the id belongs to another branch.
    """
    if await branches_repo.get_branch(session, branch_id) is None:
        raise not_found("branch", branch_id)
    if not await branches_repo.upsert_counter(session, {"counter_id": counter_id, "branch_id": branch_id, **spec}):
        raise invalid("path.counter_id", f"counter {counter_id} belongs to another branch")
    return counter_view(await branches_repo.get_counter(session, counter_id))


async def put_kiosk(session: AsyncSession, *, branch_id: str, kiosk_id: str, secret: str | None) -> dict[str, Any]:
    """Register or re-key a kiosk; only an Argon2id hash of ``secret`` is stored. Without
    ``secret`` a 256-bit random one is generated and returned once (``secret`` in the
    answer). The old secret stops working at once on every instance (the kiosk row is read
    on each request).

    Raises:
        Problem: 404 branch; 422 ``path.kiosk_id`` when the id belongs to another branch
            (a kiosk never moves between branches: the other branch's kiosk and secret are
            left untouched).
    """
    if await branches_repo.get_branch(session, branch_id) is None:
        raise not_found("branch", branch_id)
    generated = secret is None
    secret = secrets.token_urlsafe(32) if secret is None else secret  # 32 bytes = 256 bits
    secret_hash = await asyncio.to_thread(hash_secret, secret)
    if not await branches_repo.upsert_kiosk(session, {"kiosk_id": kiosk_id, "branch_id": branch_id, "secret_hash": secret_hash, "active": True}):
        raise invalid("path.kiosk_id", f"kiosk {kiosk_id} belongs to another branch")
    return {"kiosk_id": kiosk_id, "branch_id": branch_id, **({"secret": secret} if generated else {})}
