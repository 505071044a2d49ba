"""Channel rule governance through ticketing's operations API, against real PostgreSQL,
Redis and Kafka: schema errors name the field, maker and checker differ, versions are
immutable and audited, an activation changes the next kiosk decision without restart,
decisions carry rule id and version, what-if is deterministic, completion rates.

These tests run their own app on their own database and their own topic prefix, so the
rule sets they activate never reach the other ticketing tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from counterflow_shared.events.kafka import delete_topics, ensure_topics
from counterflow_shared.rules import input_to_record
from counterflow_testkit import delete_redis_prefix, drop_database, eventually, migrated_database, running_app
from counterflow_ticketing.main import create_app
from counterflow_ticketing.settings import TicketingSettings

from .conftest import PACKAGE_DIR, Service, make_branch


@pytest.fixture(scope="module")
async def rules_service(infrastructure: Any) -> AsyncIterator[Service]:
    """A ticketing app of its own (database, topic prefix, Redis prefix)."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    created = await ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix)
    name, url = await asyncio.to_thread(migrated_database, PACKAGE_DIR, "rules")
    settings = TicketingSettings(
        database_url=url,
        topic_prefix=prefix,
        redis_prefix=f"test:rules:{uuid.uuid4().hex[:8]}:",
        kiosk_requests_per_minute=100_000,
        log_json=False,
        log_level="WARNING",
    )
    app = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    try:
        async with running_app(app) as client:
            yield Service(client=client, app=app, settings=settings)
    finally:
        await delete_redis_prefix(settings.redis_url, settings.redis_prefix)
        await asyncio.to_thread(drop_database, name)
        await delete_topics(infrastructure.kafka_bootstrap_servers, created)


def _doc(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "name": "test", "settings": {"min_counter_wait_s": 0, "min_time_saved_s": 0}, "rules": list(rules), **extra}


async def _propose(svc: Service, doc: dict[str, Any], maker: dict[str, str]) -> int:
    r = await svc.client.post("/v1/rules/sets", json={"document": doc, "comment": "test"}, headers=maker)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "proposed"
    return r.json()["version"]


async def _propose_and_activate(svc: Service, doc: dict[str, Any]) -> int:
    version = await _propose(svc, doc, svc.staff("operations", ["*"], subject="maker-1"))
    r = await svc.client.post(f"/v1/rules/sets/{version}/approve", json={"comment": "ok"}, headers=svc.staff("approver", ["*"], subject="checker-1"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    return version


async def test_schema_errors_name_the_rule_and_field(rules_service: Service) -> None:
    maker = rules_service.staff("operations", ["*"])
    bad = _doc({"id": "ok", "then": {"type": "ticket"}}, {"id": "bad-amount", "when": {"amount": {"max": 20000}}, "then": {"type": "offer_sideways"}})
    r = await rules_service.client.post("/v1/rules/sets", json={"document": bad}, headers=maker)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"].endswith("/invalid-rule-set")
    assert {(e["rule"], e["field"]) for e in problem["errors"]} == {
        ("bad-amount", "body.document.rules[1].when.amount.max"),
        ("bad-amount", "body.document.rules[1].then.type"),
    }
    r = await rules_service.client.post("/v1/rules/sets", json={"yaml": "schema_version: 1\nname: x\nrules: [{id: a, then: {type: ticket}, when: {tiers: vip}}]"}, headers=maker)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.document.rules[0].when.tiers"
    # nothing was written
    listed = await rules_service.client.get("/v1/rules/sets", headers=maker)
    assert all(v["name"] != "x" for v in listed.json()["versions"])


async def test_maker_and_checker_must_differ(rules_service: Service) -> None:
    svc = rules_service
    version = await _propose(svc, _doc({"id": "r", "then": {"type": "ticket"}}), svc.staff("approver", ["*"], subject="alice"))
    same = await svc.client.post(f"/v1/rules/sets/{version}/approve", json={}, headers=svc.staff("approver", ["*"], subject="alice"))
    assert same.status_code == 403 and same.json()["type"].endswith("/maker-checker")
    not_approver = await svc.client.post(f"/v1/rules/sets/{version}/approve", json={}, headers=svc.staff("operations", ["*"], subject="bob"))
    assert not_approver.status_code == 403
    admin = await svc.client.post(f"/v1/rules/sets/{version}/approve", json={}, headers=svc.staff("admin", ["*"], subject="root"))
    assert admin.status_code == 403 and admin.json()["type"].endswith("/approver-required")
    shown = await svc.client.get(f"/v1/rules/sets/{version}", headers=svc.staff("analyst", ["*"]))
    assert shown.json()["status"] == "proposed"
    rejected = await svc.client.post(f"/v1/rules/sets/{version}/reject", json={"comment": "no"}, headers=svc.staff("approver", ["*"], subject="carol"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    late = await svc.client.post(f"/v1/rules/sets/{version}/activate", headers=svc.staff("approver", ["*"], subject="carol"))
    assert late.status_code == 409
    audit = (await svc.client.get(f"/v1/rules/sets/{version}/audit", headers=svc.staff("analyst", ["*"]))).json()["entries"]
    assert [(a["action"], a["actor"]) for a in audit] == [("proposed", "alice"), ("rejected", "carol")]


async def test_cli_proposes_the_configmap_rule_set_once_without_activating(rules_service: Service) -> None:
    from typer.testing import CliRunner

    from counterflow_ticketing.cli import app as cli

    svc = rules_service
    default = Path(__file__).resolve().parents[3] / "deploy/config/rulesets/default.yaml"
    args = ["rules", "propose", str(default), "--maker", "deploy-job", "--comment", "ConfigMap"]
    env = {"CF_TICKETING_DATABASE_URL": svc.settings.database_url}
    first = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    second = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert first.exit_code == 0 and second.exit_code == 0, (first.output, second.output)
    version = int(first.output.split("version ")[1].split()[0])
    assert first.output.startswith("proposed") and second.output.startswith(f"already stored as version {version}")
    shown = (await svc.client.get(f"/v1/rules/sets/{version}", headers=svc.staff("analyst", ["*"]))).json()
    assert (shown["status"], shown["proposed_by"], shown["document"]["version"]) == ("proposed", "deploy-job", version)


async def test_versions_are_immutable_in_the_database(rules_service: Service) -> None:
    svc = rules_service
    version = await _propose(svc, _doc({"id": "r", "then": {"type": "ticket"}}), svc.staff("operations", ["*"]))
    async with svc.runtime.sessions() as session:
        with pytest.raises(DBAPIError, match="immutable"):
            async with session.begin():
                await session.execute(text("UPDATE rule_set_versions SET document = '{}' WHERE version = :v"), {"v": version})
        with pytest.raises(DBAPIError, match="immutable"):
            async with session.begin():
                await session.execute(text("DELETE FROM rule_set_audit WHERE version = :v"), {"v": version})


async def test_activation_changes_the_next_kiosk_decision_without_restart(rules_service: Service) -> None:
    svc = rules_service
    branch = await make_branch(svc)
    scoped = {"branches": [branch.branch_id]}

    async def kiosk(**body: Any) -> dict[str, Any]:
        r = await svc.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": "2000", "currency": "CZK", **body}, headers=branch.kiosk)
        assert r.status_code == 201, r.text
        return r.json()

    v1 = await _propose_and_activate(svc, _doc({"id": "boost", "when": {**scoped, "service_types": ["cash_withdrawal"]}, "then": {"type": "ticket", "priority_boost": 2}}))

    async def decided_by(version: int, rule_id: str) -> dict[str, Any] | None:
        doc = await kiosk()
        return doc if (doc.get("rule_set_version"), doc.get("rule_id")) == (version, rule_id) else None

    first = await eventually(lambda: decided_by(v1, "boost"), timeout_s=30, interval_s=0.2, what="v1 in the kiosk decision")
    assert first["kind"] == "ticket"

    # v2: known customers are handed off to the app; the offer carries rule id and version
    v2 = await _propose_and_activate(svc, _doc({"id": "to-app", "when": {**scoped, "known_customer": True}, "then": {"type": "offer_mobile"}}))

    async def offered() -> dict[str, Any] | None:
        doc = await kiosk(customer_id=f"cust-{uuid.uuid4().hex[:6]}")
        return doc if doc["kind"] == "offer" else None

    offer = (await eventually(offered, timeout_s=30, interval_s=0.2, what="v2 offer at the kiosk"))["offer"]
    assert (offer["rule_set_version"], offer["rule_id"], offer["channel"]) == (v2, "to-app", "mobile")
    # anonymous walk-ins cannot be handed off: a ticket under v2's default
    anon = await kiosk()
    assert (anon["kind"], anon["rule_set_version"], anon["rule_id"]) == ("ticket", v2, "default")
    # every decision, ticket or offer, is recorded with its version, rule and inputs
    async with svc.app.state.runtime.sessions() as session:
        rows = (await session.execute(text("SELECT kind, rule_set_version, rule_id, ticket_id, diversion_id, inputs FROM rule_decisions WHERE branch_id = :b ORDER BY decided_at"), {"b": branch.branch_id})).all()
    by_ticket = {r.ticket_id: r for r in rows if r.ticket_id}
    assert (by_ticket[anon["ticket"]["ticket_id"]].rule_set_version, by_ticket[anon["ticket"]["ticket_id"]].rule_id) == (v2, "default")
    recorded_offer = next(r for r in rows if r.diversion_id == offer["diversion_id"])
    assert (recorded_offer.kind, recorded_offer.rule_id, recorded_offer.rule_set_version) == ("offer", "to-app", v2)
    assert recorded_offer.inputs["service_type"] == "cash_withdrawal" and recorded_offer.inputs["branch_id"] == branch.branch_id

    # rollback to v1 takes effect the same way
    r = await svc.client.post("/v1/rules/rollback", json={}, headers=svc.staff("approver", ["*"], subject="checker-2"))
    assert r.status_code == 200 and r.json()["version"] == v1
    await eventually(lambda: decided_by(v1, "boost"), timeout_s=30, interval_s=0.2, what="rollback in the kiosk decision")
    audit = (await svc.client.get("/v1/rules/audit", headers=svc.staff("analyst", ["*"]))).json()["entries"]
    assert [a["action"] for a in audit if a["version"] == v1][-1] == "rolled_back"
    diff = (await svc.client.get(f"/v1/rules/sets/{v2}/diff?against={v1}", headers=svc.staff("analyst", ["*"]))).json()["changes"]
    assert diff["rules"]["added"] == ["to-app"] and diff["rules"]["removed"] == ["boost"]

    # completion rates per rule and branch from the offers' outcomes
    await _propose_and_activate(svc, _doc({"id": "to-app", "when": {**scoped, "known_customer": True}, "then": {"type": "offer_mobile"}}))
    offers = [(await eventually(offered, timeout_s=30, interval_s=0.2, what="offer"))["offer"] for _ in range(3)]
    accepted = await svc.client.post(f"/v1/kiosk/offers/{offers[0]['diversion_id']}/accept", headers=branch.kiosk)
    declined = await svc.client.post(f"/v1/kiosk/offers/{offers[1]['diversion_id']}/decline", headers=branch.kiosk)
    assert accepted.status_code == 200 and declined.status_code == 201, (accepted.text, declined.text)
    rates = (await svc.client.get(f"/v1/rules/completion-rates?branch_id={branch.branch_id}", headers=branch.ops)).json()["rates"]
    (row,) = [r for r in rates if r["rule_id"] == "to-app"]
    assert row["branch_id"] == branch.branch_id
    assert (row["declined"], row["accepted"], row["in_progress"]) == (1, 1, 1)
    assert row["offered"] == row["pending"] + 2 and row["acceptance_rate"] == 0.5 and row["completion_rate"] is None


async def test_what_if_api_is_deterministic_and_names_bad_records(rules_service: Service) -> None:
    from counterflow_shared.rules.whatif import parse_traffic  # noqa: F401 - the format the API takes

    svc = rules_service
    reader = svc.staff("approver", ["*"], subject="approver-w")
    version = await _propose(svc, _doc({"id": "to-app", "when": {"known_customer": True, "service_types": ["transfer"]}, "then": {"type": "offer_mobile"}}), svc.staff("operations", ["*"]))
    records = []
    from datetime import UTC, datetime

    from counterflow_shared.rules import DecisionInput

    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    for i in range(30):
        records.append(
            input_to_record(
                DecisionInput(
                    branch_id="b-w",
                    service_type=["transfer", "cash_withdrawal"][i % 2],
                    now=start + timedelta(minutes=2 * i),
                    customer_id=f"c{i}" if i % 3 else None,
                    propensity={"mobile": 0.25 + (i % 4) / 10},
                    counter_wait_s=float(60 * i),
                )
            )
        )
    body = {"records": records, "counters": 2}
    a = await svc.client.post(f"/v1/rules/sets/{version}/what-if", json=body, headers=reader)
    b = await svc.client.post(f"/v1/rules/sets/{version}/what-if", json=body, headers=reader)
    assert a.status_code == 200, a.text
    assert json.dumps(a.json(), sort_keys=True) == json.dumps(b.json(), sort_keys=True)
    report = a.json()
    offered_customers = [r for r in records if r["service_type"] == "transfer" and r["customer_id"]]
    assert report["proposed"]["offers_per_rule"] == {"to-app": len(offered_customers)}
    assert report["proposed"]["expected_accepted"] == pytest.approx(sum(r["propensity"]["mobile"] for r in offered_customers))
    assert report["window"]["records"] == 30 and "expected_wait_mean_s" in report["active"]

    # the same window from the service's decision records
    from counterflow_shared.rules import decide, input_from_record
    from counterflow_ticketing.domain.rules_outcomes import record_decision

    async with svc.runtime.sessions() as session, session.begin():
        for rec in records:
            await record_decision(session, decide(None, input_from_record({**rec, "branch_id": "b-window"})), at=datetime.fromisoformat(rec["now"]))
    window = {"since": "2026-11-24T09:00:00+00:00", "until": "2026-11-24T10:00:00+00:00", "branch_id": "b-window", "counters": 2}
    w = await svc.client.post(f"/v1/rules/sets/{version}/what-if", json=window, headers=reader)
    assert w.status_code == 200, w.text
    assert w.json()["window"]["records"] == 30 and w.json()["window"]["source"] == "decision records"
    assert w.json()["proposed"]["offers_per_rule"] == report["proposed"]["offers_per_rule"]
    # ... and exported by the CLI as JSON lines for `rules what-if --traffic`
    from typer.testing import CliRunner

    from counterflow_ticketing.cli import app as cli

    args = ["rules", "export-window", "--since", window["since"], "--until", window["until"], "--branch-id", "b-window"]
    exported = await asyncio.to_thread(CliRunner().invoke, cli, args, env={"CF_TICKETING_DATABASE_URL": svc.settings.database_url})
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(x) for x in exported.output.splitlines()]
    assert [x["now"] for x in lines] == [r["now"] for r in records] and lines[0]["branch_id"] == "b-window"

    broken = [*records[:3], {**records[3], "now": "2026-11-24T09:00:00"}]
    r = await svc.client.post(f"/v1/rules/sets/{version}/what-if", json={"records": broken}, headers=reader)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.records[3].now"
    r = await svc.client.post(f"/v1/rules/sets/{version}/what-if", json={}, headers=reader)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.since"


async def test_route_to_vip_room_binds_the_ticket_to_the_vip_counter(rules_service: Service) -> None:
    """A ``route_to: vip_room`` decision: the normal counter does not take the ticket, the
    VIP counter does (before earlier normal tickets); with no live VIP counter the ticket
    falls back to the normal queue with the rule's boost, and the answer says so."""
    svc = rules_service
    branch = await make_branch(svc, counters=[["cash", "payments"]])
    normal = branch.counters[0]
    vip = f"{branch.branch_id}-vip"
    r = await svc.client.put(f"/v1/branches/{branch.branch_id}/counters/{vip}", json={"name": "VIP room", "kind": "vip_room", "zone": "non_cash", "skills": ["cash", "payments"]}, headers=branch.ops)
    assert r.status_code == 200, r.text
    vip_teller = svc.staff("teller", [branch.branch_id], subject="teller-vip")
    normal_teller = svc.staff("teller", [branch.branch_id], subject=f"teller-{normal}")
    assert (await svc.client.post(f"/v1/counters/{vip}/session/open", headers=vip_teller)).status_code == 201
    version = await _propose_and_activate(
        svc,
        _doc(
            {"id": "vip-transfer", "when": {"branches": [branch.branch_id], "service_types": ["transfer"]}, "then": {"type": "ticket", "route_to": "vip_room", "priority_boost": 1}},
            {"id": "rm-bills", "when": {"branches": [branch.branch_id], "service_types": ["bill_payment"]}, "then": {"type": "ticket", "route_to": "relationship_manager"}},
        ),
    )

    async def request(service_type: str) -> dict[str, Any]:
        r = await svc.client.post("/v1/kiosk/service-requests", json={"service_type": service_type}, headers=branch.kiosk)
        assert r.status_code == 201, r.text
        return r.json()

    async def routed() -> dict[str, Any] | None:
        doc = await request("transfer")
        if doc.get("rule_set_version") == version:
            return doc
        await svc.client.post(f"/v1/branches/{branch.branch_id}/tickets/{doc['ticket']['ticket_id']}/cancel", headers=branch.lobby)
        return None

    first = await eventually(routed, timeout_s=30, interval_s=0.2, what="the routing rule set in the kiosk decision")
    assert (first["rule_id"], first["route_to"], first["route_fallback"]) == ("vip-transfer", "vip_room", False)
    assert (first["ticket"]["route_to"], first["ticket"]["route_fallback"]) == ("vip_room", False)
    walk_in = await request("cash_withdrawal")
    assert walk_in["ticket"]["route_to"] is None

    async def call_next(counter: str, headers: dict[str, str]) -> dict[str, Any] | None:
        r = await svc.client.post(f"/v1/counters/{counter}/call-next", headers=headers)
        assert r.status_code == 200, r.text
        return r.json() and r.json()["ticket"]

    async def serve(counter: str, headers: dict[str, str], ticket_id: str) -> None:
        for step, body in (("start", None), ("finish", {"outcome": "completed"})):
            r = await svc.client.post(f"/v1/counters/{counter}/tickets/{ticket_id}/{step}", json=body, headers=headers)
            assert r.status_code == 200, r.text

    # the routed ticket is earlier and boosted, yet the normal counter takes the walk-in
    assert (await call_next(normal, normal_teller))["ticket_id"] == walk_in["ticket"]["ticket_id"]
    await serve(normal, normal_teller, walk_in["ticket"]["ticket_id"])
    assert await call_next(normal, normal_teller) is None
    # a walk-in waits, then a routed ticket without boost (relationship manager -> VIP room):
    # the VIP counter calls its routed tickets before the earlier walk-in
    later = await request("cash_withdrawal")
    bills = await request("bill_payment")
    assert (bills["rule_id"], bills["ticket"]["route_to"], bills["ticket"]["priority"]) == ("rm-bills", "relationship_manager", later["ticket"]["priority"])
    called = await call_next(vip, vip_teller)
    assert called["ticket_id"] == first["ticket"]["ticket_id"] and called["route_to"] == "vip_room"
    status = (await svc.client.get(f"/v1/kiosk/tickets/{first['ticket']['ticket_id']}", headers=branch.kiosk)).json()
    assert (status["status"], status["counter_id"], status["route_to"]) == ("called", vip, "vip_room")
    await serve(vip, vip_teller, first["ticket"]["ticket_id"])
    assert (await call_next(vip, vip_teller))["ticket_id"] == bills["ticket"]["ticket_id"]
    await serve(vip, vip_teller, bills["ticket"]["ticket_id"])
    assert (await call_next(normal, normal_teller))["ticket_id"] == later["ticket"]["ticket_id"]
    await serve(normal, normal_teller, later["ticket"]["ticket_id"])

    # routed while the VIP room was open, then the VIP room closes: any counter takes it
    stranded = await request("transfer")
    assert stranded["route_fallback"] is False
    assert await call_next(normal, normal_teller) is None
    assert (await svc.client.post(f"/v1/counters/{vip}/session/close", headers=vip_teller)).status_code == 200
    assert (await call_next(normal, normal_teller))["ticket_id"] == stranded["ticket"]["ticket_id"]
    await serve(normal, normal_teller, stranded["ticket"]["ticket_id"])

    # no live VIP counter at issue: normal queue with the rule's boost, and the answer says so
    fallback = await request("transfer")
    assert (fallback["rule_id"], fallback["route_to"], fallback["route_fallback"]) == ("vip-transfer", "vip_room", True)
    assert "no open counter takes vip_room" in fallback["explanation"]
    assert fallback["ticket"]["route_fallback"] is True and fallback["ticket"]["priority"] > walk_in["ticket"]["priority"]
    assert (await call_next(normal, normal_teller))["ticket_id"] == fallback["ticket"]["ticket_id"]
