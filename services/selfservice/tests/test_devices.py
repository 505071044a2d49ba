"""Registry, heartbeats, the offline watchdog and availability against the real
PostgreSQL and Kafka."""

from __future__ import annotations

from counterflow_testkit import eventually

from .conftest import HEARTBEAT_TIMEOUT_S, WATCHDOG_INTERVAL_S, recycler, uid

STATE = "selfservice.device.state.v1"


async def test_registered_device_is_offline_until_its_first_heartbeat(client, staff, register, events):
    branch, device_id = uid("B"), uid("D")
    device = await register(recycler(device_id, branch))
    r = await client.get(f"/v1/devices/{device_id}", headers=staff)
    assert r.json()["status"] == "offline"
    assert r.json()["available_service_types"] == []
    ack = await device.heartbeat(counts={"C1": 100})
    assert ack.status_code == 200, ack.text
    assert ack.json()["status"] == "online"
    assert set(ack.json()["available_service_types"]) == {"cash_withdrawal", "cash_deposit", "statement"}
    await eventually(lambda: _has(events, STATE, device_id, status="online"), what="online state event")


async def test_silent_device_goes_offline_within_the_window_and_an_event_says_so(client, staff, register, events):
    branch, device_id = uid("B"), uid("D")
    device = await register(recycler(device_id, branch))
    assert (await device.heartbeat(counts={"C1": 100})).status_code == 200
    await eventually(lambda: _has(events, STATE, device_id, status="online"), what="online state event")
    # heartbeats keep it online
    for _ in range(4):
        await _sleep(HEARTBEAT_TIMEOUT_S / 4)
        assert (await device.heartbeat()).json()["status"] == "online"
    # registration published "offline" (never heard), then "online"; nothing since
    assert _statuses(events, device_id) == ["offline", "online"]
    # then it falls silent
    import time

    silent_since = time.monotonic()
    window = HEARTBEAT_TIMEOUT_S + WATCHDOG_INTERVAL_S + 1.0  # + one relay/commit round
    await eventually(lambda: _status(client, staff, device_id, "offline"), timeout_s=window + 2, interval_s=0.05, what="device offline")
    assert time.monotonic() - silent_since >= HEARTBEAT_TIMEOUT_S - 0.1
    await eventually(lambda: _async(_statuses(events, device_id) == ["offline", "online", "offline"]), timeout_s=10, what="offline event")
    assert events.of(STATE, device_id)[-1].data["available_service_types"] == []
    # a heartbeat brings it back, with an event
    assert (await device.heartbeat()).json()["status"] == "online"
    await eventually(lambda: _async(_statuses(events, device_id)[-1] == "online"), what="online again")


async def test_cassette_going_low_changes_availability(client, staff, register, events):
    branch, device_id = uid("B"), uid("D")
    device = await register(recycler(device_id, branch, count=100, low=20))
    await device.heartbeat(counts={"C1": 100})
    avail = (await client.get(f"/v1/branches/{branch}/availability", headers=staff)).json()
    by_type = {s["service_type"]: [d["device_id"] for d in s["devices"]] for s in avail["service_types"]}
    assert by_type["cash_withdrawal"] == [device_id]
    assert by_type["cash_deposit"] == [device_id]

    ack = await device.heartbeat(counts={"C1": 15})
    assert "cash_withdrawal" not in ack.json()["available_service_types"]
    avail = (await client.get(f"/v1/branches/{branch}/availability", headers=staff)).json()
    by_type = {s["service_type"]: [d["device_id"] for d in s["devices"]] for s in avail["service_types"]}
    assert "cash_withdrawal" not in by_type
    assert by_type["cash_deposit"] == [device_id]
    low = await eventually(lambda: _low_event(events, device_id), what="low cassette event")
    assert low.data["cash_units"][0]["status"] == "low"
    assert low.data["cash_available"] == {"CZK": "1500.00"} or low.data["cash_available"]["CZK"] in ("1500", "1500.00")

    # replenishment restores it and is recorded
    r = await client.post("/v1/device/replenishments", json={"cash_units": [{"unit_id": "C1", "count": 150}], "replenished_at": _now()}, headers=device.headers)
    assert r.status_code == 200, r.text
    assert "cash_withdrawal" in r.json()["available_service_types"]
    await eventually(lambda: _has(events, STATE, device_id, available_service_types=["cash_withdrawal", "cash_deposit", "statement"]), what="withdrawals available again")
    history = (await client.get(f"/v1/devices/{device_id}/replenishments", headers=staff)).json()
    assert [(h["unit_id"], h["count_before"], h["count_after"]) for h in history] == [("C1", 15, 150)]


async def test_fleet_view_filters_by_branch_status_and_service_type(client, staff, register):
    branch = uid("B")
    a = await register(recycler(uid("D"), branch))
    b = await register(recycler(uid("D"), branch))
    await a.heartbeat(counts={"C1": 100})
    await b.heartbeat(status="hardware_error")
    r = await client.get("/v1/devices", params={"branch_id": branch}, headers=staff)
    assert {d["device_id"] for d in r.json()["items"]} == {a.device_id, b.device_id}
    r = await client.get("/v1/devices", params={"branch_id": branch, "status": "hardware_error"}, headers=staff)
    assert [d["device_id"] for d in r.json()["items"]] == [b.device_id]
    r = await client.get("/v1/devices", params={"branch_id": branch, "service_type": "cash_withdrawal"}, headers=staff)
    assert [d["device_id"] for d in r.json()["items"]] == [a.device_id]


async def test_opening_hours_close_a_lobby_device(client, staff, register):
    branch, device_id = uid("B"), uid("D")
    body = recycler(device_id, branch)
    body["opening_hours"] = {}  # a lobby device of a branch that is closed every day
    device = await register(body)
    ack = await device.heartbeat(counts={"C1": 100})
    assert ack.json()["status"] == "online"
    assert ack.json()["available_service_types"] == []
    r = await client.patch(f"/v1/devices/{device_id}", json={"opening_hours": None}, headers=staff)
    assert r.status_code == 200, r.text
    assert "cash_withdrawal" in r.json()["available_service_types"]


async def test_retired_device_publishes_retired_and_loses_its_credentials(client, staff, register, events):
    device = await register(recycler(uid("D"), uid("B")))
    await device.heartbeat(counts={"C1": 100})
    r = await client.delete(f"/v1/devices/{device.device_id}", headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "retired"
    assert (await device.heartbeat()).status_code == 401
    await eventually(lambda: _has(events, STATE, device.device_id, status="retired"), what="retired event")


async def test_registration_needs_an_operations_token(client, staff):
    body = recycler(uid("D"), uid("B"))
    assert (await client.post("/v1/devices", json=body)).status_code == 401
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 201
    again = await client.post("/v1/devices", json=body, headers=staff)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _statuses(events, device_id: str) -> list[str]:  # noqa: ANN001
    """Published statuses of a device in order, repeats collapsed."""
    out: list[str] = []
    for e in events.of(STATE, device_id):
        if not out or out[-1] != e.data["status"]:
            out.append(e.data["status"])
    return out


async def _async(value):  # noqa: ANN001, ANN202
    return value


async def _has(events, event_type: str, subject: str, **data):  # noqa: ANN001, ANN202
    return events.of(event_type, subject, **data)


async def _status(client, staff, device_id: str, status: str) -> bool:  # noqa: ANN001
    return (await client.get(f"/v1/devices/{device_id}", headers=staff)).json()["status"] == status


async def _low_event(events, device_id: str):  # noqa: ANN001, ANN202
    for e in reversed(events.of(STATE, device_id)):
        if e.data["cash_units"] and e.data["cash_units"][0]["status"] == "low":
            return e
    return None
