"""The fleet of a branch (``GET /v1/branches/{id}/devices``): device states with their
faults and the branch's latest transactions, for staff of that branch only."""

from __future__ import annotations

from counterflow_shared.devidp import issue_staff_token

from .conftest import recycler, uid


def _staff(settings, role: str, branches: list[str]) -> dict[str, str]:  # noqa: ANN001
    token = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject="fleet-test", role=role, branches=branches)
    return {"Authorization": f"Bearer {token}"}


async def test_the_fleet_lists_states_faults_and_latest_transactions_of_one_branch(client, settings, register) -> None:  # noqa: ANN001
    branch = uid("B")
    healthy = await register(recycler(uid("D"), branch, count=150, capacity=200, low=20, full=195))
    await healthy.heartbeat(counts={"C1": 150})
    starved = await register(recycler(uid("D"), branch, count=3, capacity=200, low=20, full=195))
    await starved.heartbeat(status="hardware_error", counts={"C1": 3})
    elsewhere = await register(recycler(uid("D"), uid("B")))
    await elsewhere.heartbeat()
    assert (await healthy.transaction(kind="withdrawal", amount="1000", currency="CZK")).status_code == 201
    refused = await starved.transaction(kind="withdrawal", amount="5000", currency="CZK")
    assert refused.status_code in (201, 409), refused.text
    await healthy.heartbeat(counts={"C1": 140})
    await starved.heartbeat(status="hardware_error", counts={"C1": 3})
    r = await client.get(f"/v1/branches/{branch}/devices", headers=_staff(settings, "lobby_manager", [branch]))
    assert r.status_code == 200, r.text
    doc = r.json()
    devices = {d["device_id"]: d for d in doc["devices"]}
    assert set(devices) == {healthy.device_id, starved.device_id}
    # (the suite marks a device offline 4 s after its last heartbeat: on a loaded machine
    # the healthy one may already be offline, which is then its only fault)
    assert set(devices[healthy.device_id]["faults"]) <= {"status:offline"}
    faults = devices[starved.device_id]["faults"]
    assert "cash_unit:C1:low" in faults and ({"status:hardware_error", "status:offline"} & set(faults))
    assert [t["device_id"] for t in doc["transactions"]][-1] == healthy.device_id  # newest first
    assert {t["device_id"] for t in doc["transactions"]} <= {healthy.device_id, starved.device_id}
    other = await client.get(f"/v1/branches/{branch}/devices", headers=_staff(settings, "lobby_manager", [uid("B")]))
    assert other.status_code == 403


async def test_the_fleet_page_speaks_the_branch_language_from_the_directory_event(client, settings, producer, topic_prefix) -> None:  # noqa: ANN001
    """Ticketing owns branches; its ``branch.profile.updated`` gives the fleet page the
    branch's name and default language. A staff member's own choice (cookie) still wins,
    and a late, older profile never overwrites a newer one."""
    from datetime import UTC, datetime, timedelta

    from counterflow_shared.events.payloads.branches import BranchProfile
    from counterflow_testkit import eventually
    from counterflow_shared.web.session import LANG_COOKIE, SESSION_COOKIE

    from .conftest import send_event

    branch = uid("B")
    token = _staff(settings, "lobby_manager", [branch])["Authorization"].removeprefix("Bearer ")
    url = f"/branches/{branch}/fleet"
    signed_in = {"Cookie": f"{SESSION_COOKIE}={token}", "Accept-Language": "en"}
    english = await client.get(url, headers=signed_in)
    assert english.status_code == 200 and '<html lang="en">' in english.text and branch in english.text
    at = datetime(2026, 12, 2, 8, tzinfo=UTC)
    profile = BranchProfile(branch_id=branch, name="Shanghai Lujiazui", time_zone="Asia/Shanghai", opening_hours=[], language="zh_CN", updated_at=at)
    await send_event(producer, topic_prefix, profile)

    async def in_chinese() -> str | None:
        r = await client.get(url, headers=signed_in)
        return r.text if '<html lang="zh-Hans">' in r.text else None

    page = await eventually(in_chinese, timeout_s=60, what="the fleet page in the branch's language")
    assert "Shanghai Lujiazui" in page
    chosen = await client.get(url, headers={**signed_in, "Cookie": f"{SESSION_COOKIE}={token}; {LANG_COOKIE}=en"})
    assert '<html lang="en">' in chosen.text, "the staff member's own language choice wins over the branch's"
    # an older profile (redelivered or late) is ignored; a newer one applies
    await send_event(producer, topic_prefix, profile.model_copy(update={"language": "en", "name": "old name", "updated_at": at - timedelta(hours=1)}))
    await send_event(producer, topic_prefix, profile.model_copy(update={"name": "Shanghai Lujiazui 2", "updated_at": at + timedelta(hours=1)}))

    async def renamed() -> str | None:
        r = await client.get(url, headers=signed_in)
        return r.text if "Shanghai Lujiazui 2" in r.text else None

    page = await eventually(renamed, timeout_s=60, what="the newer profile")
    assert '<html lang="zh-Hans">' in page and "old name" not in page
