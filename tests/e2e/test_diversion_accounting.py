"""Every accepted diversion ends, whatever the channel (issue 17), end to end through the
public APIs of ticketing, selfservice and the mobile gateway on real Kafka, PostgreSQL
and Redis:

* device: a kiosk offer accepted, then completed by the device's transaction, or expired
  by selfservice when nobody comes;
* app: an app offer accepted, the hand-off draft completed in the app (the gateway
  publishes ``channel.diversion.completed``), or left to expire;
* appointment: an app offer accepted, then an appointment booked (completed), or never
  booked (expired).

Ticketing's per-rule rates must then agree with ``channel.diversions.v1``: the final
status of every diversion on the topic (completed beats expired) is the one ticketing
counts, each diversion once. Kiosk offers carry the rule's ``fee_notice``, ``message`` and
lifetime like app offers do."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from counterflow_shared.events.catalog import CHANNEL_DIVERSIONS
from counterflow_testkit import drop_database, eventually, migrated_database, running_app
from counterflow_shared.devidp import issue_staff_token

from counterflow_selfservice.main import PACKAGE_DIR as SELFSERVICE_DIR
from counterflow_selfservice.main import create_app as create_selfservice
from counterflow_selfservice.settings import SelfServiceSettings

from .conftest import activate_rules, gateway_test_support, open_branch, own_topics, staff

#: The shortest lifetime a rule may give an accepted offer (seconds; rule schema minimum):
#: the hand-offs nobody finishes expire after it.
SHORT_TTL_S = 60
KIOSK_SECRET = "kiosk-secret-0123456789"


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this module's own (the rule set it activates is global)."""
    yield from own_topics(infrastructure.kafka_bootstrap_servers)


_support = gateway_test_support()
database, redis_prefix, gateway, client, kit = _support.database, _support.redis_prefix, _support.gateway, _support.client, _support.kit


@pytest.fixture(scope="module")
async def selfservice(infrastructure: Any, topic_prefix: str):  # noqa: ANN201
    """Selfservice (devices) on this module's topics, with a fast expiry watchdog."""
    name, url = migrated_database(SELFSERVICE_DIR, "e2e_selfservice")
    settings = SelfServiceSettings(database_url=url, topic_prefix=topic_prefix, watchdog_interval_s=0.2, forecast_refit_s=0, log_json=False, log_level="WARNING")
    app = create_selfservice(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    try:
        async with running_app(app) as client:
            yield client, settings
    finally:
        drop_database(name)


def _recycler(device_id: str, branch_id: str) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "branch_id": branch_id,
        "zone": "self_service",
        "kind": "cash_recycler",
        "accessible": True,
        "capabilities": {"service_types": ["cash_withdrawal"], "max_amount": {"CZK": "20000"}, "denominations": ["100"], "currencies": ["CZK"]},
        "time_zone": "Europe/Prague",
        "cash_units": [{"unit_id": "C1", "currency": "CZK", "denomination": "100", "capacity": 2000, "low_threshold": 20, "full_threshold": 1900, "count": 1000}],
    }


def _rules(branch_id: str) -> dict[str, Any]:
    scoped = {"branches": [branch_id]}
    kiosk, app = {**scoped, "channels_of_request": ["kiosk"]}, {**scoped, "channels_of_request": ["mobile"]}
    small, large = {"max": "5000", "currencies": ["CZK"]}, {"min": "5000.01", "currencies": ["CZK"]}
    rules = [
        {"id": "device-long", "when": {**kiosk, "service_types": ["cash_withdrawal"], "amount": small}, "then": {"type": "offer_device", "fee_notice": "free at the recycler", "message": "Recycler in the lobby, no queue", "offer_ttl_s": 3600}},
        {"id": "device-short", "when": {**kiosk, "service_types": ["cash_withdrawal"], "amount": large}, "then": {"type": "offer_device", "offer_ttl_s": SHORT_TTL_S}},
        {"id": "app-long", "when": {**app, "service_types": ["transfer"], "amount": small}, "then": {"type": "offer_mobile", "fee_notice": "free in the app", "message": "Finish it in the app", "offer_ttl_s": 3600}},
        {"id": "app-short", "when": {**app, "service_types": ["transfer"], "amount": large}, "then": {"type": "offer_mobile", "offer_ttl_s": SHORT_TTL_S}},
        {"id": "appt-long", "when": {**app, "service_types": ["cash_withdrawal"], "amount": small}, "then": {"type": "offer_appointment", "message": "Book a time, skip the queue", "offer_ttl_s": 3600}},
        {"id": "appt-short", "when": {**app, "service_types": ["cash_withdrawal"], "amount": large}, "then": {"type": "offer_appointment", "offer_ttl_s": SHORT_TTL_S}},
    ]
    return {"schema_version": 1, "name": "e2e-accounting", "settings": {"min_counter_wait_s": 0, "min_time_saved_s": 0}, "rules": rules}


def _final_statuses(events: list[Any], branch_id: str) -> dict[str, tuple[str, str]]:
    """``{diversion_id: (rule_id, final status)}`` from the topic's steps of ``branch_id``:
    the furthest step wins (completed > expired > accepted/declined > offered)."""
    rank = {"offered": 0, "accepted": 1, "declined": 1, "expired": 2, "completed": 3}
    final: dict[str, tuple[str, str]] = {}
    for e in events:
        if not e.type.startswith("channel.diversion.") or e.data["branch_id"] != branch_id:
            continue
        d, status = e.data["diversion_id"], e.data["status"]
        if d not in final or rank[status] > rank[final[d][1]]:
            final[d] = (e.data["rule_id"], status)
    return final


async def test_every_accepted_diversion_ends_once_on_every_channel(ticketing, gateway, selfservice, kit, topic_prefix):
    tclient, tsettings = ticketing
    _, client = gateway
    sclient, ssettings = selfservice
    branch_id, _, _ = await open_branch(tclient, tsettings, "Brno - náměstí Svobody")
    ops = staff(tsettings, "operations", branch_id, "ops-1")
    kiosk_id = f"{branch_id}-k1"
    assert (await tclient.put(f"/v1/branches/{branch_id}/kiosks/{kiosk_id}", json={"secret": KIOSK_SECRET}, headers=ops)).status_code == 200
    kiosk = {"Authorization": f"Bearer {kiosk_id}:{KIOSK_SECRET}"}

    # a cash recycler in the branch, registered and online in selfservice
    device_id = f"D-{uuid.uuid4().hex[:8]}"
    r = await sclient.post("/v1/devices", json=_recycler(device_id, branch_id), headers=_selfservice_staff(ssettings))
    assert r.status_code == 201, r.text
    device = {"Authorization": f"Bearer {device_id}:{r.json()['secret']}"}
    r = await sclient.post("/v1/device/heartbeats", json={"status": "online", "sent_at": datetime.now(UTC).isoformat(), "cash_units": [{"unit_id": "C1", "count": 1000}]}, headers=device)
    assert r.status_code in (200, 202), r.text

    version = await activate_rules(tclient, tsettings, _rules(branch_id))
    customer = await kit.new_customer(client)

    async def kiosk_offer(amount: str, rule_id: str) -> dict[str, Any] | None:
        r = await tclient.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "customer_id": customer.customer_id, "amount": amount, "currency": "CZK"}, headers=kiosk)
        assert r.status_code == 201, r.text
        doc = r.json()
        if doc["kind"] == "offer" and doc["offer"]["rule_id"] == rule_id:
            return doc["offer"]
        if doc["kind"] == "ticket":  # the device or the rule set is not known yet: withdraw the ticket
            assert (await tclient.post(f"/v1/kiosk/tickets/{doc['ticket']['ticket_id']}/cancel", headers=kiosk)).status_code == 200
        return None

    # --- device, completed: the kiosk offer carries the rule's terms
    offer = await eventually(lambda: kiosk_offer("2000", "device-long"), timeout_s=60, interval_s=0.3, what="a device offer at the kiosk")
    assert (offer["fee_notice"], offer["message"], offer["offer_ttl_s"], offer["device_id"], offer["rule_set_version"]) == ("free at the recycler", "Recycler in the lobby, no queue", 3600, device_id, version)
    r = await tclient.post(f"/v1/kiosk/offers/{offer['diversion_id']}/accept", headers=kiosk)
    assert r.status_code == 200, r.text
    expires_at = datetime.fromisoformat(r.json()["offer"]["expires_at"])
    assert timedelta(seconds=3590) < expires_at - datetime.now(UTC) <= timedelta(seconds=3600)  # the rule's lifetime, not the 1,800 s setting
    device_done = offer["diversion_id"]
    tx = {"transaction_id": f"tx-{uuid.uuid4().hex[:8]}", "occurred_at": datetime.now(UTC).isoformat(), "kind": "withdrawal", "amount": "2000", "currency": "CZK", "customer_id": customer.customer_id, "diversion_id": device_done}
    assert (await sclient.post("/v1/device/transactions", json=tx, headers=device)).status_code == 201

    # --- device, expired: accepted, nobody comes within the rule's short lifetime
    offer = await eventually(lambda: kiosk_offer("6000", "device-short"), timeout_s=30, interval_s=0.3, what="a short device offer")
    assert (await tclient.post(f"/v1/kiosk/offers/{offer['diversion_id']}/accept", headers=kiosk)).status_code == 200
    device_gone = offer["diversion_id"]

    # --- app and appointment offers, through the gateway
    async def app_offer(service_type: str, amount: str, rule_id: str) -> dict[str, Any] | None:
        r = await client.post("/v1/tickets", json={"branch_id": branch_id, "service_type": service_type, "amount": amount, "currency": "CZK"}, headers=customer.headers)
        assert r.status_code in (200, 202), r.text
        doc = r.json()
        if doc["kind"] == "offer" and doc["offer"]["rule_id"] == rule_id:
            return doc["offer"]
        if doc["kind"] == "ticket":
            assert (await client.post(f"/v1/tickets/{doc['id']}/cancel", headers=customer.headers)).status_code == 200
        return None

    accepted: dict[str, str] = {}
    for service_type, amount, rule_id in (("transfer", "900", "app-long"), ("transfer", "9000", "app-short"), ("cash_withdrawal", "900", "appt-long"), ("cash_withdrawal", "9000", "appt-short")):
        o = await eventually(lambda s=service_type, a=amount, r=rule_id: app_offer(s, a, r), timeout_s=60, interval_s=0.3, what=f"an app offer of {rule_id}")
        assert (await client.post(f"/v1/offers/{o['diversion_id']}/accept", headers=customer.headers)).status_code == 200
        accepted[rule_id] = o["diversion_id"]

    rates_headers = staff(tsettings, "operations", branch_id, "ops-1")

    async def rates() -> dict[str, dict[str, Any]]:
        r = await tclient.get("/v1/rules/completion-rates", params={"branch_id": branch_id}, headers=rates_headers)
        assert r.status_code == 200, r.text
        return {row["rule_id"]: row for row in r.json()["rates"]}

    async def short_ones_expired() -> dict[str, Any] | None:
        by_rule = await rates()
        seen = {rule: by_rule.get(rule, {}).get("expired") for rule in ("device-short", "app-short", "appt-short")}
        return None if set(seen.values()) != {1} else seen

    # the hand-offs nobody finishes expire (selfservice for the device, the gateway for the app)
    await eventually(short_ones_expired, timeout_s=SHORT_TTL_S + 90, interval_s=0.5, what="the short hand-offs expired in ticketing's accounting")

    # app, completed: the hand-off draft is completed in the app
    async def draft_of(diversion_id: str) -> dict[str, Any] | None:
        drafts = (await client.get("/v1/drafts", headers=customer.headers)).json()
        return next((d for d in drafts if d["diversion_id"] == diversion_id), None)

    draft = await eventually(lambda: draft_of(accepted["app-long"]), timeout_s=60, what="the hand-off draft")
    r = await client.post(f"/v1/drafts/{draft['draft_id']}/complete", json={}, headers=customer.headers)
    assert r.status_code == 200, r.text

    # appointment, completed: the customer books a slot at the branch
    slot = await eventually(lambda: _free_slot(client, customer.headers, branch_id), timeout_s=60, what="a free appointment slot")
    r = await client.post("/v1/appointments", json={"branch_id": branch_id, "service_type": "cash_withdrawal", "starts_at": slot}, headers=customer.headers)
    assert r.status_code == 201, r.text

    expected = {
        device_done: ("device-long", "completed"),
        device_gone: ("device-short", "expired"),
        accepted["app-long"]: ("app-long", "completed"),
        accepted["app-short"]: ("app-short", "expired"),
        accepted["appt-long"]: ("appt-long", "completed"),
        accepted["appt-short"]: ("appt-short", "expired"),
    }
    async def rates_closed() -> dict[str, dict[str, Any]] | None:
        by_rule = await rates()
        done = all(rule in by_rule and by_rule[rule][status] == 1 and by_rule[rule]["in_progress"] == 0 for rule, status in expected.values())
        return by_rule if done else None

    by_rule = await eventually(rates_closed, timeout_s=90, interval_s=0.5, what="every accepted diversion closed in ticketing's accounting")
    for rule, status in expected.values():
        other = "expired" if status == "completed" else "completed"
        assert (by_rule[rule]["accepted"], by_rule[rule][other]) == (1, 0), (rule, by_rule[rule])

    # the topic tells the same story, each diversion once
    log = kit.ActivityLog(tsettings.kafka_bootstrap_servers, f"{topic_prefix}{CHANNEL_DIVERSIONS.name}", CHANNEL_DIVERSIONS.partitions)
    await log.start()
    try:

        async def all_closed_on_topic() -> bool:
            final = _final_statuses(await log.poll(), branch_id)
            return all(final.get(d) == v for d, v in expected.items())

        await eventually(all_closed_on_topic, timeout_s=60, what="closing steps on channel.diversions.v1")
        final = _final_statuses(log.events, branch_id)
        accepted_on_topic = {d: v for d, v in final.items() if v[1] in ("completed", "expired")}
        assert accepted_on_topic == expected
        per_rule = Counter((rule, status) for rule, status in final.values())
        for rule, row in by_rule.items():
            assert (row["completed"], row["expired"]) == (per_rule[(rule, "completed")], per_rule[(rule, "expired")]), rule
        closings = Counter(e.data["diversion_id"] for e in log.events if e.type == "channel.diversion.completed.v1" and e.data["branch_id"] == branch_id)
        assert all(n == 1 for n in closings.values()), closings
    finally:
        await log.stop()


def _selfservice_staff(settings: SelfServiceSettings) -> dict[str, str]:
    """Headers of a selfservice operations staff member covering every branch."""
    token = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject="ops-devices", role="operations", branches=["*"])
    return {"Authorization": f"Bearer {token}"}


async def _free_slot(client: Any, headers: dict[str, str], branch_id: str) -> str | None:
    """The first free cash-withdrawal slot today or tomorrow (branch-local days)."""
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):
        r = await client.get(f"/v1/branches/{branch_id}/slots", params={"service_type": "cash_withdrawal", "date": day.isoformat()}, headers=headers)
        if r.status_code == 200 and r.json()["slots"]:
            return r.json()["slots"][0]["starts_at"]
    return None
