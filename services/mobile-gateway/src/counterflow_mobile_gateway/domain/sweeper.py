"""The gateway's periodic work: expire overdue drafts and appointment hand-offs, send
appointment reminders.

Runs as a background loop of every worker instance; rows are claimed with
``FOR UPDATE SKIP LOCKED`` so several instances never handle the same one twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from counterflow_shared.persistence.db import session_scope
from counterflow_mobile_gateway.domain import drafts, handoffs
from counterflow_mobile_gateway.domain.notifications import NotificationKind, issue
from counterflow_mobile_gateway.events.fanout import Push, fanout_of
from counterflow_mobile_gateway.persistence import appointments as appointment_repo
from counterflow_mobile_gateway.persistence import branches as branch_repo

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


async def sweep_once(runtime: "ServiceRuntime", *, now: datetime | None = None) -> list[Push]:
    """One round (one transaction) at ``now`` (default: the domain clock,
    ``runtime.clock``); returns the live messages it sent after commit."""
    now = now or await runtime.clock.now()
    lead = timedelta(seconds=runtime.settings.appointment_reminder_lead_s)
    async with session_scope(runtime.sessions) as session:
        pushes = await drafts.expire_overdue(session, runtime, now=now)
        await handoffs.expire_overdue(session, runtime, now=now)
        for row in await appointment_repo.due_reminders(session, now=now, until=now + lead):
            profile = await branch_repo.get_profile(session, branch_id=row["branch_id"])
            zone = ZoneInfo(profile["time_zone"]) if profile else UTC
            local = row["starts_at"].astimezone(zone)
            pushes.append(
                await issue(
                    session,
                    runtime,
                    customer_id=row["customer_id"],
                    kind=NotificationKind.APPOINTMENT_REMINDER,
                    title="Appointment reminder",
                    body=f"Your appointment ({row['service_type'].replace('_', ' ')}) is at {local:%H:%M} today.",
                    data={"appointment": row["appointment_id"], "branch_id": row["branch_id"], "starts_at": row["starts_at"].isoformat()},
                    now=now,
                )
            )
            await appointment_repo.update_appointment(session, appointment_id=row["appointment_id"], reminder_sent=True)
    await fanout_of(runtime).publish(pushes)
    return pushes


async def sweeper(runtime: "ServiceRuntime") -> None:
    """Background loop: :func:`sweep_once` every ``sweep_interval_s`` seconds."""
    while True:
        await sweep_once(runtime)
        await asyncio.sleep(runtime.settings.sweep_interval_s)
