"""Reading decisions back (issue 17): a kiosk decision is read by offer, ticket or id
with its inputs, the rule as written, every veto with its reason, why each device of
the branch was not offered (status, notes, forecast...), and the export keeps the rule id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from counterflow_shared.events.payloads.devices import DeviceCapabilities, DeviceState
from counterflow_testkit import eventually
from counterflow_ticketing.persistence import rules_repo

from .conftest import Service, make_branch
from .kafka_helpers import send
from .test_rules_governance import _doc, _propose_and_activate, rules_service  # noqa: F401 - module fixture

ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)]


def _device(device_id: str, branch_id: str, *, status: str = "online", available: bool = True, unavailable: dict[str, str] | None = None, forecast_in_s: float | None = None) -> DeviceState:
    now = datetime.now(UTC)
    return DeviceState(
        device_id=device_id,
        branch_id=branch_id,
        zone="self_service",
        kind="cash_recycler",
        status=status,
        capabilities=DeviceCapabilities(service_types=["cash_withdrawal"], max_amount={"CZK": "20000"}, denominations=["500"], currencies=["CZK"]),
        cash_available={"CZK": "50000"},
        available_service_types=["cash_withdrawal"] if available else [],
        unavailable_service_types=unavailable or {},
        forecast_cash_out_at=now + timedelta(seconds=forecast_in_s) if forecast_in_s is not None else None,
        at=now,
    )


async def test_a_decision_reads_back_with_rule_vetoes_and_why_each_device_was_not_offered(rules_service: Service) -> None:  # noqa: F811
    svc = rules_service
    branch = await make_branch(svc, hours=ALL_DAY)
    b = branch.branch_id
    await send(
        svc.settings,
        _device(f"{b}-ok", b),
        _device(f"{b}-notes", b, available=False, unavailable={"cash_withdrawal": "notes"}),
        _device(f"{b}-down", b, status="hardware_error", available=False, unavailable={"cash_withdrawal": "status"}),
        _device(f"{b}-dry", b, forecast_in_s=60),
    )
    scoped = {"branches": [b], "service_types": ["cash_withdrawal"]}
    version = await _propose_and_activate(
        svc,
        _doc(
            {"id": "app-first", "when": scoped, "then": {"type": "offer_mobile"}},
            {"id": "to-recycler", "description": "cash at the recycler", "when": scoped, "then": {"type": "offer_device", "fee_notice": "free at the machine", "message": "No queue at the recycler"}},
        ),
    )

    async def offer() -> dict[str, Any] | None:
        r = await svc.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": "2000", "currency": "CZK"}, headers=branch.kiosk)
        assert r.status_code == 201, r.text
        doc = r.json()
        if doc["kind"] == "offer" and doc["offer"]["rule_set_version"] == version:
            return doc["offer"]
        if doc["kind"] == "ticket":
            await svc.client.post(f"/v1/kiosk/tickets/{doc['ticket']['ticket_id']}/cancel", headers=branch.kiosk)
        return None

    made = await eventually(offer, timeout_s=30, interval_s=0.2, what="the device offer under the new rule set")
    assert (made["device_id"], made["fee_notice"], made["message"]) == (f"{b}-ok", "free at the machine", "No queue at the recycler")

    r = await svc.client.get("/v1/decisions", params={"diversion_id": made["diversion_id"]}, headers=branch.lobby)
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["kind"], d["rule_set_version"], d["rule_id"], d["device_id"], d["diversion_status"]) == ("offer", version, "to-recycler", f"{b}-ok", "offered")
    assert d["rule"] == {"id": "to-recycler", "description": "cash at the recycler", "when": scoped, "then": {"type": "offer_device", "fee_notice": "free at the machine", "message": "No queue at the recycler"}}
    # the anonymous walk-in could not be sent to the app: the veto and its reason are stored
    assert d["vetoes"] == [{"rule_id": "app-first", "reason": "anonymous_customer"}]
    assert {x["device_id"]: x["reasons"] for x in d["devices_not_offered"]} == {f"{b}-notes": ["notes"], f"{b}-down": ["status"], f"{b}-dry": ["forecast"]}
    assert d["inputs"]["amount"] == "2000" and d["inputs"]["counter_wait_s"] is not None and len(d["inputs"]["devices"]) == 4
    assert d["told"]["fee_notice"] == "free at the machine" and d["told"]["offer_ttl_s"] == 1800
    by_id = await svc.client.get(f"/v1/decisions/{d['decision_id']}", headers=branch.ops)
    assert by_id.status_code == 200 and by_id.json() == d

    # a customer who asks for a person gets a ticket; both offers were vetoed, and said why
    r = await svc.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": "2000", "currency": "CZK", "needs": ["asks_for_person"]}, headers=branch.kiosk)
    assert r.status_code == 201 and r.json()["kind"] == "ticket", r.text
    t = await svc.client.get("/v1/decisions", params={"ticket_id": r.json()["ticket"]["ticket_id"]}, headers=branch.lobby)
    assert t.status_code == 200, t.text
    assert (t.json()["kind"], t.json()["rule_id"], t.json()["diversion_status"]) == ("ticket", "default", None)
    assert t.json()["vetoes"] == [{"rule_id": "app-first", "reason": "needs_person"}, {"rule_id": "to-recycler", "reason": "needs_person"}]
    assert {x["device_id"]: x["reasons"] for x in t.json()["devices_not_offered"]}[f"{b}-ok"] == ["rules"]

    # bad lookups: problem+json naming the field, 404, other branches' staff
    r = await svc.client.get("/v1/decisions", headers=branch.ops)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json") and "query.ticket_id" in r.text
    r = await svc.client.get("/v1/decisions", params={"ticket_id": "t-unknown"}, headers=branch.ops)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await svc.client.get(f"/v1/decisions/{d['decision_id']}", headers=svc.staff("operations", ["b-elsewhere"]))
    assert r.status_code == 403

    # the export keeps what was decided beside the inputs
    async with svc.app.state.runtime.sessions() as session:
        records = await rules_repo.decision_records(session, since=datetime.now(UTC) - timedelta(hours=1), until=datetime.now(UTC) + timedelta(minutes=1), branch_id=b)
    exported = {r["decision"]["decision_id"]: r for r in records}
    assert exported[d["decision_id"]]["decision"]["rule_id"] == "to-recycler" and exported[d["decision_id"]]["service_type"] == "cash_withdrawal"
    assert exported[d["decision_id"]]["decision"]["vetoes"] == d["vetoes"]
