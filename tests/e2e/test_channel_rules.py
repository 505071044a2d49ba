"""Channel rules across services, end to end (issue 7): a rule set activated through
ticketing's governance API (a maker proposes, a different approver approves) changes the
mobile gateway's next decision without restarting it; the decision carries rule id and
version and is recorded; the ticket decision's priority boost reaches ticketing with the
remote request; the tier comes from the gateway's customer.scores.v1 read model; an offer
is accepted (the hand-off draft appears) or declined (the remote
ticket is requested). Real Kafka, PostgreSQL and Redis; topics of this module's own, so
the rule sets activated here reach no other test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from counterflow_shared.events.catalog import CHANNEL_DIVERSIONS
from counterflow_shared.events.payloads.common import Tier
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_testkit import delete_redis_prefix, eventually

from counterflow_mobile_gateway.domain import channel

from .conftest import activate_rules, gateway_test_support, open_branch, own_topics


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this module's own (the rule sets it activates are global)."""
    yield from own_topics(infrastructure.kafka_bootstrap_servers)


_support = gateway_test_support()
database, redis_prefix, gateway, client, kit, producer = _support.database, _support.redis_prefix, _support.gateway, _support.client, _support.kit, _support.producer


def _doc(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "name": "e2e", "settings": {"min_counter_wait_s": 0, "min_time_saved_s": 0}, "rules": list(rules)}


async def _tier_known(app: Any, customer_id: str) -> bool:
    tier, _ = await channel.scores_of(app.state.runtime).get(customer_id)
    return tier == "premium"


async def test_activation_changes_the_gateways_next_decision_without_restart(ticketing, gateway, client, kit, database, producer, topic_prefix):
    tclient, tsettings = ticketing
    app, _ = gateway
    branch_id, _, _ = await open_branch(tclient, tsettings, "Praha - Václavské náměstí")
    customer = await kit.new_customer(client)
    # scoring's view of the customer (customer.scores.v1): B's rule needs the tier
    score = CustomerScored(
        customer_id=customer.customer_id, score=0.91, percentile=0.93, tier=Tier.PREMIUM, propensity={"mobile": 0.7, "self_service": 0.2, "appointment": 0.1}, model_version="e2e", computed_at=datetime.now(UTC)
    )
    await kit.emit(producer, topic_prefix, score, source="/counterflow/scoring")
    await eventually(lambda: _tier_known(app, customer.customer_id), timeout_s=60, what="the customer's score in the gateway's read model")

    async def load_known() -> dict[str, Any] | None:
        r = await client.get(f"/v1/branches/{branch_id}", headers=customer.headers)
        if r.status_code != 200:
            return None
        waits = {s["service_type"]: s["estimated_wait_s"] for s in r.json()["services"]}
        return r.json() if waits.get("cash_withdrawal") is not None else None

    await eventually(load_known, timeout_s=60, what="the branch profile and a load snapshot reached the gateway")

    scoped = {"branches": [branch_id]}
    version_a = await activate_rules(tclient, tsettings, _doc({"id": "a-boost", "when": {**scoped, "service_types": ["cash_withdrawal"]}, "then": {"type": "ticket", "priority_boost": 2}}))

    async def ask(**extra: Any) -> tuple[int, dict[str, Any]]:
        r = await client.post("/v1/tickets", json={"branch_id": branch_id, "service_type": "cash_withdrawal", "amount": "1500", "currency": "CZK", **extra}, headers=customer.headers)
        assert r.status_code in (200, 202), r.text
        return r.status_code, r.json()

    async def decided_by(version: int, rule_id: str) -> tuple[int, dict[str, Any]] | None:
        status, doc = await ask()
        if (doc["decision"]["rule_set_version"], doc["decision"]["rule_id"]) == (version, rule_id):
            return status, doc
        if doc["kind"] == "ticket":  # an earlier version's ticket: withdraw it (remote-ticket limit)
            assert (await client.post(f"/v1/tickets/{doc['id']}/cancel", headers=customer.headers)).status_code == 200
        return None

    status, first = await eventually(lambda: decided_by(version_a, "a-boost"), timeout_s=60, interval_s=0.3, what="rule set A in the gateway's decision")
    assert status == 202 and first["kind"] == "ticket" and first["status"] == "pending"
    assert (first["decision"]["kind"], first["decision"]["priority_boost"]) == ("ticket", 2)

    async def issued() -> dict[str, Any] | None:
        t = (await client.get(f"/v1/tickets/{first['id']}", headers=customer.headers)).json()
        return t if t["status"] == "waiting" else None

    ticket = await eventually(issued, timeout_s=60, what="ticketing issued the remote ticket")
    boosted_priority = ticket["priority"]  # tier points + A's boost (checked against a plain ticket below)
    assert (await client.post(f"/v1/tickets/{first['id']}/cancel", headers=customer.headers)).status_code == 200

    # B: identified customers are handed off to the app; the gateway answers with the offer
    version_b = await activate_rules(tclient, tsettings, _doc({"id": "b-to-app", "when": {**scoped, "known_customer": True, "tiers": ["premium"]}, "then": {"type": "offer_mobile", "fee_notice": "free in the app"}}))
    status, offered = await eventually(lambda: decided_by(version_b, "b-to-app"), timeout_s=60, interval_s=0.3, what="rule set B in the gateway's decision")
    offer = offered["offer"]
    assert status == 200 and offered["kind"] == "offer" and offered["decision"]["kind"] == "offer"
    assert (offer["rule_set_version"], offer["rule_id"], offer["channel"], offer["status"], offer["fee_notice"]) == (version_b, "b-to-app", "mobile", "offered", "free in the app")
    assert (offer["amount"], offer["currency"]) == ("1500.00", "CZK")  # the money type's canonical form: the currency's minor unit (issue 16)
    # a customer asking for a person is never pushed away: a ticket under B's default
    status, person = await ask(needs=["asks_for_person"])
    assert (status, person["kind"], person["decision"]["rule_set_version"], person["decision"]["rule_id"]) == (202, "ticket", version_b, "default")
    assert (await client.post(f"/v1/tickets/{person['id']}/cancel", headers=customer.headers)).status_code == 200

    # accept: the diversion is accepted and the hand-off draft waits in the app
    accepted = await client.post(f"/v1/offers/{offer['diversion_id']}/accept", headers=customer.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["kind"] == "diverted" and accepted.json()["offer"]["status"] == "accepted"
    again = await client.post(f"/v1/offers/{offer['diversion_id']}/decline", headers=customer.headers)
    assert again.status_code == 409 and again.json()["type"].endswith("/offer-decided")

    async def draft() -> dict[str, Any] | None:
        drafts = (await client.get("/v1/drafts", headers=customer.headers)).json()
        return next((d for d in drafts if d["diversion_id"] == offer["diversion_id"]), None)

    handed_off = await eventually(draft, timeout_s=60, what="the hand-off draft of the accepted offer")
    assert (handed_off["service_type"], handed_off["amount"], handed_off["currency"]) == ("cash_withdrawal", "1500.00", "CZK")

    # decline: the remote ticket is requested after all, and ticketing issues it
    _, second = await ask()
    declined = await client.post(f"/v1/offers/{second['offer']['diversion_id']}/decline", headers=customer.headers)
    assert declined.status_code == 202, declined.text
    pending = declined.json()
    assert pending["kind"] == "ticket" and pending["offer"]["status"] == "declined" and pending["offer"]["request_id"] == pending["id"]

    async def declined_issued() -> dict[str, Any] | None:
        t = (await client.get(f"/v1/tickets/{pending['id']}", headers=customer.headers)).json()
        return t if t["status"] == "waiting" else None

    plain_priority = (await eventually(declined_issued, timeout_s=60, what="the ticket after the decline"))["priority"]
    assert boosted_priority == plain_priority + 2  # A's boost travelled with the remote request

    # every decision is recorded in the gateway with version, rule and inputs
    async with app.state.runtime.sessions() as session:
        rows = (await session.execute(text("SELECT kind, rule_set_version, rule_id, ticket_id, diversion_id, inputs FROM rule_decisions WHERE branch_id = :b"), {"b": branch_id})).all()
    by_offer = {r.diversion_id: r for r in rows if r.diversion_id}
    by_ticket = {r.ticket_id: r for r in rows if r.ticket_id}
    assert (by_ticket[first["id"]].kind, by_ticket[first["id"]].rule_set_version, by_ticket[first["id"]].rule_id) == ("ticket", version_a, "a-boost")
    recorded = by_offer[offer["diversion_id"]]
    assert (recorded.kind, recorded.rule_set_version, recorded.rule_id) == ("offer", version_b, "b-to-app")
    assert recorded.inputs["channel_of_request"] == "mobile" and recorded.inputs["amount"] == "1500" and recorded.inputs["counter_wait_s"] is not None
    assert recorded.inputs["customer_id"] == customer.customer_id and {"known_customer", "tiers"} <= set(recorded.inputs["used"])
    assert (recorded.inputs["tier"], recorded.inputs["propensity"]["mobile"]) == ("premium", 0.7)

    # the offer steps are on channel.diversions.v1 for the rest of the loop
    diversions = kit.ActivityLog(tsettings.kafka_bootstrap_servers, f"{tsettings.topic_prefix}{CHANNEL_DIVERSIONS.name}", CHANNEL_DIVERSIONS.partitions)
    await diversions.start()
    try:
        for step, diversion_id in (("offered", offer["diversion_id"]), ("accepted", offer["diversion_id"]), ("declined", second["offer"]["diversion_id"])):
            await diversions.wait_for(
                lambda e, step=step, diversion_id=diversion_id: e.type == f"channel.diversion.{step}.v1" and e.data["diversion_id"] == diversion_id and e.data["rule_id"] == "b-to-app",
                timeout_s=60,
                what=f"channel.diversion.{step}",
            )
    finally:
        await diversions.stop()

    # a new gateway instance on an empty Redis, without consumers: the active rule set and
    # the customer's tier come from replaying the compacted channel.rules.v1 and
    # customer.scores.v1 at start-up, and it decides the same way
    fresh_prefix = f"test:mobile-fresh:{uuid.uuid4().hex[:8]}:"
    fresh = _support.create_app(_support.make_settings(database, tsettings.topic_prefix, fresh_prefix, embedded_workers=False))
    try:
        async with _support.serve(fresh) as fresh_client:
            rules = await fresh.state.runtime.redis.hget(f"{fresh_prefix}rules:active:global", "stamp")
            assert rules is not None and rules.startswith(f"{version_b}@")
            r = await fresh_client.post("/v1/tickets", json={"branch_id": branch_id, "service_type": "cash_withdrawal"}, headers=customer.headers)
            assert r.status_code == 200 and (r.json()["decision"]["rule_set_version"], r.json()["decision"]["rule_id"]) == (version_b, "b-to-app"), r.text
    finally:
        await delete_redis_prefix(tsettings.redis_url, fresh_prefix)
