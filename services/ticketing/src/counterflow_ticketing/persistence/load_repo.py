"""Queries on ``load_snapshots`` (the last published load signature per branch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import load_snapshots


async def claim(session: AsyncSession, branch_id: str) -> bool:
    """Make sure the branch's row exists and lock it ``SKIP LOCKED``; ``False`` when
    another instance holds it right now."""
    await session.execute(
        insert(load_snapshots).values(branch_id=branch_id, published_at=datetime(1970, 1, 1, tzinfo=UTC), signature={}).on_conflict_do_nothing()
    )
    stmt = select(load_snapshots.c.branch_id).where(load_snapshots.c.branch_id == branch_id).with_for_update(skip_locked=True)
    return (await session.execute(stmt)).first() is not None


async def last(session: AsyncSession, branch_id: str) -> Row | None:
    """The last published snapshot's time and signature (``None`` when never published)."""
    row = (await session.execute(select(load_snapshots).where(load_snapshots.c.branch_id == branch_id))).first()
    return row if row is not None and row.published_at.year > 1970 else None


#: A change stamped up to this long before a check may commit after it (the transaction
#: that called a ticket at 10:00:00.0 commits at 10:00:00.3): ``checked_at`` is kept this
#: far behind the check, so such a change still brings its branch back. Longer than a
#: request transaction (the pool waits at most 1 s, a request's statements take ms).
COMMIT_LAG = timedelta(seconds=5)


async def record(session: AsyncSession, branch_id: str, at: datetime, signature: dict[str, Any]) -> None:
    """Remember the snapshot published at ``at``."""
    await session.execute(load_snapshots.update().where(load_snapshots.c.branch_id == branch_id).values(published_at=at, signature=signature, checked_at=at - COMMIT_LAG))


async def checked(session: AsyncSession, branch_id: str, at: datetime) -> None:
    """Remember that the branch was looked at ``at`` without publishing."""
    await session.execute(load_snapshots.update().where(load_snapshots.c.branch_id == branch_id).values(checked_at=at - COMMIT_LAG))


#: Active branches the load loop must look at (one round trip, parameters ``now`` and
#: ``due_before``): never snapshotted, due (last published before ``due_before``, or
#: after ``now`` under a simulated clock moved back), or with activity since they were
#: last checked: a ticket issued, called or finished, a teller session opened or
#: closed. Each activity test is one probe of a ``(branch_id, <time>)`` index, so the
#: cost follows the number of branches and the activity, not the tickets' history.
_CHANGED = text(
    """
SELECT b.branch_id FROM branches b LEFT JOIN load_snapshots s ON s.branch_id = b.branch_id
WHERE b.active AND (
  s.branch_id IS NULL OR s.published_at < CAST(:due_before AS timestamptz) OR s.published_at > CAST(:now AS timestamptz)
  OR EXISTS (SELECT 1 FROM tickets t WHERE t.branch_id = b.branch_id AND t.issued_at > coalesce(s.checked_at, s.published_at))
  OR EXISTS (SELECT 1 FROM tickets t WHERE t.branch_id = b.branch_id AND t.called_at > coalesce(s.checked_at, s.published_at))
  OR EXISTS (SELECT 1 FROM tickets t WHERE t.branch_id = b.branch_id AND t.finished_at > coalesce(s.checked_at, s.published_at))
  OR EXISTS (SELECT 1 FROM teller_sessions ts WHERE ts.branch_id = b.branch_id
             AND (ts.opened_at > coalesce(s.checked_at, s.published_at) OR ts.closed_at > coalesce(s.checked_at, s.published_at))))
ORDER BY b.branch_id
"""
)


async def changed_branches(session: AsyncSession, *, now: datetime, due_before: datetime) -> list[str]:
    """Active branches that changed since they were last checked, or whose snapshot is due."""
    return list((await session.execute(_CHANGED, {"now": now, "due_before": due_before})).scalars())
