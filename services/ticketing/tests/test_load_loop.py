"""The load loop looks only at branches that changed since it last looked, or whose
snapshot is due (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from counterflow_ticketing.domain.context import ctx_for
from counterflow_ticketing.domain.load import publish_if_due
from counterflow_ticketing.persistence import load_repo

from .conftest import Service, make_branch, take_ticket


async def _changed(service: Service, *branch_ids: str, later_s: float = 0.0) -> set[str]:
    now = (await ctx_for(service.runtime)).now + timedelta(seconds=later_s)
    async with service.runtime.autocommit.connect() as conn:
        got = await load_repo.changed_branches(conn, now=now, due_before=now - timedelta(seconds=service.settings.load_snapshot_interval_s))
    return set(got) & set(branch_ids)


async def _look(service: Service, branch_id: str) -> None:
    async with service.runtime.sessions() as session, session.begin():
        await publish_if_due(session, await ctx_for(service.runtime), branch_id)


async def test_only_a_branch_with_activity_or_a_due_snapshot_is_visited(service: Service, clock) -> None:
    quiet, busy = await make_branch(service), await make_branch(service)
    ids = (quiet.branch_id, busy.branch_id)
    assert await _changed(service, *ids) == set(ids)  # never snapshotted
    # the loop looks a little later than the set-up (activity within COMMIT_LAG of a look
    # still counts, in case it committed after the look)
    later = datetime.now(UTC) + load_repo.COMMIT_LAG + timedelta(seconds=2)
    clock(later)
    for b in ids:
        await _look(service, b)
    assert await _changed(service, *ids) == set()
    await take_ticket(service, busy)
    assert await _changed(service, *ids) == {busy.branch_id}
    due = service.settings.load_snapshot_interval_s + 1
    assert await _changed(service, *ids, later_s=due) == set(ids)  # both due again
