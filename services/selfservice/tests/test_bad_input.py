"""Bad device input: 4xx naming the field, logged, and no state change (no count, no
transaction, no outbox row)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs
from sqlalchemy import func, select

from counterflow_selfservice.persistence.tables import backbone, cash_units, device_transactions, replenishments

from .conftest import DeviceClient, recycler, uid


def _future() -> str:
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


def _now() -> str:
    return datetime.now(UTC).isoformat()


CASES = [
    # (endpoint, body, field named in the problem)
    ("heartbeats", {"status": "online", "sent_at": "NOW", "cash_units": [{"unit_id": "C1", "count": 201}]}, "body.cash_units.0.count"),
    ("heartbeats", {"status": "online", "sent_at": "NOW", "cash_units": [{"unit_id": "C1", "count": -1}]}, "body.cash_units.0.count"),
    ("heartbeats", {"status": "online", "sent_at": "NOW", "cash_units": [{"unit_id": "X9", "count": 5}]}, "body.cash_units.0.unit_id"),
    ("heartbeats", {"status": "online", "sent_at": "FUTURE", "cash_units": [{"unit_id": "C1", "count": 5}]}, "body.sent_at"),
    ("heartbeats", {"status": "online", "sent_at": "PAST"}, "body.sent_at"),
    ("heartbeats", {"status": "offline", "sent_at": "NOW"}, "body.status"),
    ("heartbeats", {"status": "online", "sent_at": "2026-01-01T10:00:00"}, "body.sent_at"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "-100", "currency": "CZK", "occurred_at": "NOW"}, "body.amount"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": 100.5, "currency": "CZK", "occurred_at": "NOW"}, "body.amount"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "100.005", "currency": "CZK", "occurred_at": "NOW"}, "body.amount"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "100", "currency": "CZK", "occurred_at": "FUTURE"}, "body.occurred_at"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "100", "currency": "EUR", "occurred_at": "NOW"}, "body.currency"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "50000", "currency": "CZK", "occurred_at": "NOW"}, "body.amount"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "100", "currency": "CZK", "notes": [{"unit_id": "X9", "count": 1}], "occurred_at": "NOW"}, "body.notes.0.unit_id"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": "300", "currency": "CZK", "notes": [{"unit_id": "C1", "count": 1}], "occurred_at": "NOW"}, "body.notes"),
    ("transactions", {"transaction_id": "t1", "kind": "deposit", "amount": "20000", "currency": "CZK", "notes": [{"unit_id": "C1", "count": 200}], "occurred_at": "NOW"}, "body.notes.0.count"),
    ("transactions", {"transaction_id": "t1", "kind": "bill_payment", "amount": "100", "currency": "CZK", "occurred_at": "NOW"}, "body.kind"),
    ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "currency": "CZK", "occurred_at": "NOW"}, "body.amount"),
    # amounts that do not fit the money type: refused, never rounded or overflowing (issue 16)
    *(
        ("transactions", {"transaction_id": "t1", "kind": "withdrawal", "amount": bad, "currency": "CZK", "occurred_at": "NOW"}, "body.amount")
        for bad in ("12345678901234567.89", "1E+16", "1E+20", "99999999999999999", "1E+200000", "1_000", "\u0663", "0.123456")
    ),
    ("replenishments", {"cash_units": [{"unit_id": "C1", "count": 500}], "replenished_at": "NOW"}, "body.cash_units.0.count"),
    ("replenishments", {"cash_units": [{"unit_id": "X9", "count": 5}], "replenished_at": "NOW"}, "body.cash_units.0.unit_id"),
    ("replenishments", {"cash_units": [{"unit_id": "C1", "count": 5}], "replenished_at": "FUTURE"}, "body.replenished_at"),
]


def _fill(body: dict) -> dict:
    times = {"NOW": _now(), "FUTURE": _future(), "PAST": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    return {k: times.get(v, v) if isinstance(v, str) else v for k, v in body.items()}


@pytest.fixture(scope="module")
async def device(client, staff) -> DeviceClient:  # noqa: ANN001
    """One online recycler (100 notes of 100 CZK, capacity 200) shared by the cases: each
    case checks that its refused request changed nothing."""
    body = recycler(uid("D"), uid("B"), count=100, capacity=200)
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 201, r.text
    return DeviceClient(client, body["device_id"], r.json()["secret"])


@pytest.mark.parametrize(("endpoint", "body", "field"), CASES, ids=[f"{e}:{f}:{i}" for i, (e, _, f) in enumerate(CASES)])
async def test_bad_device_input_is_refused_naming_the_field_and_changes_nothing(app, client, device, endpoint, body, field):
    assert (await device.heartbeat(counts={"C1": 100})).status_code == 200
    before = await _snapshot(app, device.device_id)
    with capture_logs() as logs:
        r = await client.post(f"/v1/device/{endpoint}", json=_fill(body), headers=device.headers)
    assert any(e["event"] in ("device.bad_input", "device.refused") and e["path"] == f"/v1/device/{endpoint}" for e in logs), logs
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert await _snapshot(app, device.device_id) == before


async def test_bad_operator_input_names_the_field(client, staff):
    body = recycler(uid("D"), uid("B"))
    body["cash_units"][0]["low_threshold"] = 195
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.cash_units.0.low_threshold"
    body = recycler(uid("D"), uid("B"))
    body["time_zone"] = "Mars/Olympus"
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.time_zone"
    body = recycler(uid("D"), uid("B"))
    body["opening_hours"] = {"mon": [["18:00", "08:00"]]}
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.opening_hours.mon.0"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"denomination": "0.005"}, "body.cash_units.0.denomination"),
        ({"denomination": "12345678901234567.89"}, "body.cash_units.0.denomination"),
        ({"denomination": "1E+20"}, "body.cash_units.0.denomination"),
        ({"typical_withdrawal": "2.665"}, "body.typical_withdrawal"),
        ({"typical_withdrawal": "99999999999999999"}, "body.typical_withdrawal"),
        ({"max_amount": {"CZK": "0.001"}}, "body.capabilities.max_amount"),
    ],
)
async def test_device_amounts_that_do_not_fit_their_currency_are_422_never_rounded(client, staff, change, field):
    body = recycler(uid("D"), uid("B"))
    if "denomination" in change:
        body["cash_units"][0]["denomination"] = change["denomination"]
    elif "max_amount" in change:
        body["capabilities"]["max_amount"] = change["max_amount"]
    else:
        body.update(change)
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith(field), r.json()
    assert (await client.get(f"/v1/devices/{body['device_id']}", headers=staff)).status_code == 404


async def test_device_amounts_read_back_exactly(client, staff):
    body = recycler(uid("D"), uid("B"), denomination="0.50")
    body["typical_withdrawal"] = "2.65"
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 201, r.text
    device = (await client.get(f"/v1/devices/{body['device_id']}", headers=staff)).json()
    assert device["typical_withdrawal"] == "2.65" and device["cash_units"][0]["denomination"] == "0.50"


async def _snapshot(app, device_id: str) -> tuple:  # noqa: ANN001
    """Counts, transactions, replenishments of the device and the outbox size."""
    outbox = backbone["outbox"]
    async with app.state.runtime.sessions() as session:
        counts = (await session.execute(select(cash_units.c.unit_id, cash_units.c.count).where(cash_units.c.device_id == device_id))).all()
        txs = (await session.execute(select(func.count()).select_from(device_transactions).where(device_transactions.c.device_id == device_id))).scalar_one()
        reps = (await session.execute(select(func.count()).select_from(replenishments).where(replenishments.c.device_id == device_id))).scalar_one()
        events = (await session.execute(select(func.count()).select_from(outbox).where(outbox.c.key == device_id))).scalar_one()
    return sorted(counts), txs, reps, events
