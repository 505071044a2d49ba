"""Ticketing's diversion accounting (issue 17): every step order and every redelivery of
one diversion's steps ends in the same stored status, on the real database."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from counterflow_shared.events.payloads import diversions as dv
from counterflow_ticketing.domain import diversion_ledger
from counterflow_ticketing.persistence import tickets_repo

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLASSES = {"offered": dv.DiversionOffered, "accepted": dv.DiversionAccepted, "declined": dv.DiversionDeclined, "completed": dv.DiversionCompleted, "expired": dv.DiversionExpired}


def _step(diversion_id: str, status: str, minutes: int) -> dv.DiversionChanged:
    return CLASSES[status](
        diversion_id=diversion_id,
        branch_id="b-ledger",
        customer_id="c-1",
        service_type="transfer",
        channel="mobile",
        rule_set_version=4,
        rule_id="app-handoff",
        status=dv.DiversionStatus(status),
        occurred_at=T0 + timedelta(minutes=minutes),
    )


async def _final(service, steps: list[tuple[str, int]], order: tuple[int, ...]) -> tuple[str, datetime | None]:  # noqa: ANN001
    diversion_id = str(uuid.uuid4())
    payloads = [_step(diversion_id, status, minute) for status, minute in steps]
    async with service.runtime.sessions() as session, session.begin():
        for i in order:
            await diversion_ledger.apply_step(session, payloads[i])
    async with service.runtime.sessions() as session:
        row = await tickets_repo.get_diversion(session, diversion_id)
    return row.status, row.closed_at


async def test_any_order_and_redelivery_of_an_accepted_diversions_steps_ends_the_same(service):
    # the device reported the completion after the sweep had expired the hand-off
    steps = [("offered", 0), ("accepted", 1), ("expired", 31), ("completed", 32)]
    for order in itertools.permutations(range(len(steps))):
        for doubled in (order, order + order):  # every step delivered twice
            assert await _final(service, steps, doubled) == ("completed", T0 + timedelta(minutes=32)), doubled


async def test_an_expired_diversion_stays_expired_whatever_arrives_late(service):
    steps = [("offered", 0), ("accepted", 1), ("expired", 31)]
    for order in itertools.permutations(range(len(steps))):
        assert await _final(service, steps, order + order) == ("expired", T0 + timedelta(minutes=31)), order


async def test_a_declined_offer_is_never_closed_and_an_offer_is_never_reopened(service):
    for order in itertools.permutations(range(2)):
        assert await _final(service, [("offered", 0), ("declined", 1)], order) == ("declined", None)
    assert await _final(service, [("offered", 0), ("accepted", 1), ("completed", 5), ("offered", 0), ("accepted", 1)], (0, 1, 2, 3, 4)) == ("completed", T0 + timedelta(minutes=5))


async def test_an_accepted_diversion_nobody_closes_is_expired_by_the_backstop_once(service):
    from sqlalchemy import text

    from counterflow_ticketing.events.diversion_backstop import expire_abandoned_once

    diversion_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    expires_at = now - timedelta(seconds=service.settings.diversion_grace_s + 60)
    accepted = _step(diversion_id, "accepted", 0).model_copy(update={"occurred_at": expires_at - timedelta(minutes=30), "expires_at": expires_at})
    fresh = _step(str(uuid.uuid4()), "accepted", 0).model_copy(update={"occurred_at": now, "expires_at": now - timedelta(seconds=5)})  # within the grace
    async with service.runtime.sessions() as session, session.begin():
        await diversion_ledger.apply_step(session, accepted)
        await diversion_ledger.apply_step(session, fresh)
    await expire_abandoned_once(service.runtime)
    await expire_abandoned_once(service.runtime)  # a second round (or the service's own loop) changes nothing
    async with service.runtime.sessions() as session:
        row = await tickets_repo.get_diversion(session, diversion_id)
        untouched = await tickets_repo.get_diversion(session, fresh.diversion_id)
        published = (
            await session.execute(
                text("SELECT count(*) FROM outbox WHERE headers->>'ce_type' = 'channel.diversion.expired.v1' AND convert_from(value, 'UTF8') LIKE :pattern"), {"pattern": f"%{diversion_id}%"}
            )
        ).scalar_one()
    assert (row.status, row.closed_at, published) == ("expired", expires_at, 1)
    assert untouched.status == "accepted"
    # the device reports the completion late: completion still wins
    async with service.runtime.sessions() as session, session.begin():
        await diversion_ledger.apply_step(session, _step(diversion_id, "completed", 0).model_copy(update={"occurred_at": now}))
    async with service.runtime.sessions() as session:
        assert (await tickets_repo.get_diversion(session, diversion_id)).status == "completed"
