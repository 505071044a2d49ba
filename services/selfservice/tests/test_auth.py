"""Per-device credentials: unknown, wrong, malformed, rotated and revoked -> 401."""

from __future__ import annotations

from .conftest import DeviceClient, recycler, uid


async def test_device_credentials(client, staff, register):
    device = await register(recycler(uid("D"), uid("B")))
    assert (await device.heartbeat()).status_code == 200
    cases = {
        "no header": {},
        "unknown device": {"Authorization": "Bearer D-unknown:secret"},
        "wrong secret": {"Authorization": f"Bearer {device.device_id}:wrong"},
        "malformed": {"Authorization": f"Bearer {device.device_id}"},
        "another device's id": {"Authorization": f"Bearer {uid('D')}:{device.headers['Authorization'].split(':', 1)[1]}"},
    }
    for name, headers in cases.items():
        r = await client.post("/v1/device/heartbeats", json={"status": "online", "sent_at": "2030-01-01T00:00:00Z"}, headers=headers)
        assert r.status_code == 401, name
        assert r.headers["content-type"].startswith("application/problem+json"), name
    rotated = await client.post(f"/v1/devices/{device.device_id}/credentials", headers=staff)
    assert rotated.status_code == 200
    assert (await device.heartbeat()).status_code == 401  # the old secret (cached) is dead
    fresh = DeviceClient(client, device.device_id, rotated.json()["secret"])
    assert (await fresh.heartbeat()).status_code == 200
    await client.delete(f"/v1/devices/{device.device_id}", headers=staff)
    assert (await fresh.heartbeat()).status_code == 401


async def test_staff_of_another_branch_may_not_touch_a_device(client, settings, register):
    from counterflow_shared.devidp import issue_staff_token

    device = await register(recycler(uid("D"), uid("B")))
    token = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject="ops-2", role="operations", branches=["other"])
    r = await client.get(f"/v1/devices/{device.device_id}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
