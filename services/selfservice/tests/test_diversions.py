"""Diverted customers: an accepted diversion to a device (from Kafka) is expected there;
the matching device transaction completes it, the expiry closes it (events on Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from counterflow_shared.events.payloads.diversions import DiversionAccepted, DiversionStatus
from counterflow_testkit import eventually
from counterflow_selfservice.persistence.tables import backbone, expected_diversions

from .conftest import recycler, send_event, uid

COMPLETED = "channel.diversion.completed.v1"
EXPIRED = "channel.diversion.expired.v1"


def accepted(device_id: str, branch_id: str, customer_id: str, *, expires_in_s: float = 600, channel: str = "cash_recycler") -> DiversionAccepted:
    now = datetime.now(UTC)
    return DiversionAccepted(
        diversion_id=uid("div"),
        branch_id=branch_id,
        customer_id=customer_id,
        service_type="cash_withdrawal",
        channel=channel,
        device_id=device_id,
        amount="2000",
        currency="CZK",
        rule_set_version=3,
        rule_id="divert-cash-withdrawals",
        status=DiversionStatus.ACCEPTED,
        occurred_at=now,
        expires_at=now + timedelta(seconds=expires_in_s),
    )


async def _expected_status(app, diversion_id: str) -> str | None:  # noqa: ANN001
    async with app.state.runtime.sessions() as session:
        return (await session.execute(select(expected_diversions.c.status).where(expected_diversions.c.diversion_id == diversion_id))).scalar_one_or_none()


async def test_a_diverted_customers_transaction_at_the_device_completes_the_diversion(app, register, producer, topic_prefix, events):
    branch, customer = uid("B"), uid("C")
    device = await register(recycler(uid("D"), branch))
    await device.heartbeat(counts={"C1": 100})
    offer = accepted(device.device_id, branch, customer)
    await send_event(producer, topic_prefix, offer)
    await eventually(lambda: _expected_status(app, offer.diversion_id), what="diversion expected at the device")
    # another customer's withdrawal does not complete it
    assert (await device.transaction(kind="withdrawal", amount="2000", currency="CZK", customer_id=uid("C"))).status_code == 201
    # the customer identifies at the device (card), without the diversion id
    r = await device.transaction(kind="withdrawal", amount="2000", currency="CZK", customer_id=customer)
    assert r.status_code == 201, r.text
    done = await eventually(lambda: _of(events, COMPLETED, diversion_id=offer.diversion_id), what="diversion completed event")
    assert len(done) == 1
    assert done[0].data["completed_by"] == "selfservice"
    assert done[0].data["transaction_id"] == r.json()["transaction_id"]
    assert done[0].data["rule_id"] == "divert-cash-withdrawals" and done[0].data["status"] == "completed"
    assert done[0].subject == customer
    assert await _expected_status(app, offer.diversion_id) == "completed"


async def test_a_transaction_reported_before_the_accepted_event_still_completes_it(app, register, producer, topic_prefix, events):
    branch, customer = uid("B"), uid("C")
    device = await register(recycler(uid("D"), branch))
    await device.heartbeat(counts={"C1": 100})
    offer = accepted(device.device_id, branch, customer)
    r = await device.transaction(kind="withdrawal", amount="2000", currency="CZK", customer_id=customer, diversion_id=offer.diversion_id)
    assert r.status_code == 201
    await send_event(producer, topic_prefix, offer)
    done = await eventually(lambda: _of(events, COMPLETED, diversion_id=offer.diversion_id), what="diversion completed event")
    assert done[0].data["transaction_id"] == r.json()["transaction_id"]


async def test_an_expected_customer_who_never_comes_expires(app, register, producer, topic_prefix, events):
    branch, customer = uid("B"), uid("C")
    device = await register(recycler(uid("D"), branch))
    await device.heartbeat(counts={"C1": 100})
    offer = accepted(device.device_id, branch, customer, expires_in_s=1.0)
    await send_event(producer, topic_prefix, offer)
    gone = await eventually(lambda: _of(events, EXPIRED, diversion_id=offer.diversion_id), timeout_s=30, what="diversion expired event")
    assert gone[0].data["status"] == "expired"
    # a late transaction no longer completes it
    await device.heartbeat()
    assert (await device.transaction(kind="withdrawal", amount="2000", currency="CZK", customer_id=customer)).status_code == 201
    assert await _expected_status(app, offer.diversion_id) == "expired"
    assert not events.of(COMPLETED, diversion_id=offer.diversion_id)


async def test_diversions_to_other_channels_are_not_expected_here(app, register, producer, topic_prefix, events):
    branch = uid("B")
    device = await register(recycler(uid("D"), branch))
    mobile = accepted(device.device_id, branch, uid("C"), channel="mobile")
    unknown = accepted(uid("D-unknown"), branch, uid("C"))
    marker = accepted(device.device_id, branch, uid("C"))
    sent = [await send_event(producer, topic_prefix, offer) for offer in (mobile, unknown, marker)]
    await eventually(lambda: _processed(app, [e.id for e in sent]), what="all three processed")
    assert await _expected_status(app, marker.diversion_id) == "expected"
    assert await _expected_status(app, mobile.diversion_id) is None
    assert await _expected_status(app, unknown.diversion_id) is None


async def _processed(app, event_ids: list[str]) -> bool:  # noqa: ANN001
    """Whether the consumer group recorded every one of ``event_ids`` as processed."""
    table = backbone["processed_events"]
    async with app.state.runtime.sessions() as session:
        done = (await session.execute(select(table.c.event_id).where(table.c.event_id.in_(event_ids)))).scalars().all()
    return len(done) == len(event_ids)


async def _of(events, event_type: str, **data):  # noqa: ANN001, ANN202
    return events.of(event_type, **data)
