"""Events in and out, through the real broker: remote tickets, appointments, tiers, rule
sets, diversion closure, branch profiles and load snapshots; read-model rebuild."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select

from counterflow_shared.events.payloads import diversions as dv
from counterflow_shared.events.payloads import mobile
from counterflow_shared.events.payloads.rules import RuleSetActivated
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.rules import Decision
from counterflow_shared.rules.active import ActiveRuleSet
from counterflow_testkit import eventually, running_app
from counterflow_ticketing.domain import intake, priority
from counterflow_ticketing.domain.context import readmodels_of
from counterflow_ticketing.events.handlers import rebuild_read_models
from counterflow_ticketing.main import create_app
from counterflow_ticketing.persistence.readmodels import ReadModels
from counterflow_ticketing.persistence.rules_tables import rule_decisions
from counterflow_ticketing.persistence.tables import appointments, diversions, priority_raises, tickets

from .conftest import Service, make_branch, take_ticket, utc
from .kafka_helpers import data_is, find_events, send


async def _row(service: Service, table, **where):
    async with service.runtime.sessions() as s:
        stmt = select(table)
        for k, v in where.items():
            stmt = stmt.where(table.c[k] == v)
        return (await s.execute(stmt)).first()


async def test_remote_ticket_request_is_answered_on_the_ticket_topic(service: Service) -> None:
    branch = await make_branch(service)
    ok, bad = f"r-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    now = utc(2024, 5, 6, 9)
    await send(
        service.settings,
        mobile.RemoteTicketRequested(request_id=ok, customer_id="c-remote", branch_id=branch.branch_id, service_type="transfer", requested_at=now),
        mobile.RemoteTicketRequested(request_id=bad, customer_id="c-remote", branch_id=branch.branch_id, service_type="wealth_management", requested_at=now),
    )
    (issued,) = await find_events(service.settings, "branch.tickets.v1", data_is(type="branch.ticket.issued.v1", remote_request_id=ok))
    assert issued.data["origin"] == "remote" and issued.data["number"] == "B001" and issued.data["position"] == 1
    # the event carries the whole wait forecast the ticket shows (a counter is free: 0 s, sure)
    assert (issued.data["estimated_wait_p10_s"], issued.data["estimated_wait_s"], issued.data["estimated_wait_p90_s"]) == (0.0, 0.0, 0.0)
    assert issued.data["p_called_within_sla"] == 1.0
    (rejected,) = await find_events(service.settings, "branch.tickets.v1", data_is(type="branch.remote_ticket.rejected.v1", remote_request_id=bad))
    assert "wealth_management" in rejected.data["reason"]
    await send(service.settings, mobile.RemoteTicketCancelled(request_id=ok, customer_id="c-remote", branch_id=branch.branch_id, cancelled_at=now))
    await eventually(lambda: _status(service, issued.data["ticket_id"], "cancelled"), what="remote ticket cancelled")


async def _status(service: Service, ticket_id: str, status: str) -> bool:
    row = await _row(service, tickets, ticket_id=ticket_id)
    return row is not None and row.status == status


async def test_tier_from_scores_topic_sets_priority_and_appointment_checks_in(service: Service, clock) -> None:
    branch = await make_branch(service)
    customer = f"c-{uuid.uuid4().hex[:8]}"
    appointment = f"a-{uuid.uuid4().hex[:8]}"
    start = utc(2024, 5, 6, 9, 0)
    await send(
        service.settings,
        CustomerScored(customer_id=customer, score=0.99, percentile=0.999, tier="private", propensity={"mobile": 0.2}, model_version="t", computed_at=start),
        mobile.AppointmentBooked(appointment_id=appointment, customer_id=customer, branch_id=branch.branch_id, service_type="account_opening", starts_at=start, ends_at=start + timedelta(minutes=30), status="booked", occurred_at=start),
    )
    rm = readmodels_of(service.runtime)
    await eventually(lambda: _tier_is(rm, customer, "private"), what="tier in the read model")
    await eventually(lambda: _row(service, appointments, appointment_id=appointment), what="appointment known")
    walk_in = await take_ticket(service, branch, customer_id=customer)
    assert walk_in["priority"] == 4
    clock(start - timedelta(hours=2))
    early = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "account_opening", "appointment_id": appointment, "customer_id": customer}, headers=branch.kiosk)
    assert early.status_code == 409 and early.json()["type"].endswith("/appointment-not-due")
    clock(start - timedelta(minutes=5))
    checked_in = await take_ticket(service, branch, "account_opening", appointment_id=appointment, customer_id=customer)
    assert checked_in["origin"] == "appointment" and checked_in["priority"] == 4 + 3


async def _tier_is(rm: ReadModels, customer: str, tier: str) -> bool:
    return (await rm.score(customer))[0] == tier


async def test_read_models_are_rebuilt_from_compacted_topics_when_redis_is_empty(service: Service) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    doc = {"schema_version": 1, "name": f"rebuild {customer}", "rules": [{"id": "plain", "then": {"type": "ticket"}}]}
    await send(
        service.settings,
        CustomerScored(customer_id=customer, score=0.5, percentile=0.5, tier="premium", propensity={}, model_version="t", computed_at=utc(2024, 1, 1)),
        RuleSetActivated(scope=f"s-{customer}", rule_set_id="rs", version=3, document=doc, proposed_by="m", approved_by="c", activated_at=utc(2024, 1, 1)),
    )
    live = readmodels_of(service.runtime)
    await eventually(lambda: _tier_is(live, customer, "premium"), what="live read model")
    fresh_prefix = f"test:ticketing:fresh:{uuid.uuid4().hex[:8]}:"
    fake_runtime = SimpleNamespace(settings=service.settings.model_copy(update={"redis_prefix": fresh_prefix}), redis=service.runtime.redis, state={})
    fresh = readmodels_of(fake_runtime)
    assert (await fresh.score(customer))[0] is None
    await rebuild_read_models(fake_runtime)
    try:
        assert (await fresh.score(customer))[0] == "premium"
        scoped = ActiveRuleSet(service.runtime.redis, key_prefix=fresh_prefix, scope=f"s-{customer}")
        assert await scoped.rebuild(service.settings.kafka_bootstrap_servers, service.settings.topic("channel.rules.v1")) >= 1
        assert (await scoped.activation())["document"] == doc and (await scoped.current()).version == 3
    finally:
        keys = [k async for k in service.runtime.redis.scan_iter(match=fresh_prefix + "*")]
        await service.runtime.redis.delete(*keys)


async def test_branch_profile_and_load_snapshots_are_published(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"], ["cash"]], notify_at_position=2)
    (profile,) = await find_events(service.settings, "branch.directory.v1", data_is(type="branch.profile.updated.v1", branch_id=branch.branch_id))
    assert profile.data["time_zone"] == "Europe/Prague" and {s["prefix"] for s in profile.data["services"]} >= {"A", "B"}
    assert profile.data["notify_at_position"] == 2  # the gateway's "your turn soon" place for this branch
    bad = await service.client.put(f"/v1/branches/{branch.branch_id}", json={"name": "x", "time_zone": "Europe/Prague", "notify_at_position": 0}, headers=branch.ops)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.notify_at_position"
    for _ in range(3):
        await take_ticket(service, branch)

    def three_waiting(env) -> bool:
        if env.type != "branch.load.snapshot.v1" or env.data["branch_id"] != branch.branch_id:
            return False
        cash = next(s for s in env.data["services"] if s["service_type"] == "cash_withdrawal")
        return cash["waiting"] == 3 and cash["open_counters"] == 2 and cash["estimated_wait_s"] > 0

    await find_events(service.settings, "branch.load.v1", three_waiting)


async def test_diversion_offer_accept_decline_and_completion(service: Service, monkeypatch) -> None:
    branch = await make_branch(service)
    seen = []

    def offer_atm(rule_set, request):
        seen.append(request)
        return Decision(kind="offer", rule_set_version=7, rule_id="cash-to-atm", channel="atm", device_id="atm-1", explanation="ATM free")

    monkeypatch.setattr(intake, "decide", offer_atm)
    body = {"service_type": "cash_withdrawal", "amount": "2000.00", "currency": "CZK", "customer_id": "c-div"}
    first = (await service.client.post("/v1/kiosk/service-requests", json=body, headers=branch.kiosk)).json()
    second = (await service.client.post("/v1/kiosk/service-requests", json=body, headers=branch.kiosk)).json()
    assert first["kind"] == "offer" and first["offer"]["channel"] == "atm" and first["offer"]["amount"] == "2000"
    got = seen[0]
    assert (got.branch_id, got.service_type, str(got.amount), got.currency, got.day_type) == (branch.branch_id, "cash_withdrawal", "2000.00", "CZK", got.day_type)
    assert got.counter_wait_s == 0.0 and got.local_time is not None
    accepted = await service.client.post(f"/v1/kiosk/offers/{first['offer']['diversion_id']}/accept", headers=branch.kiosk)
    assert accepted.json()["kind"] == "diverted"
    declined = await service.client.post(f"/v1/kiosk/offers/{second['offer']['diversion_id']}/decline", headers=branch.kiosk)
    assert declined.status_code == 201 and declined.json()["ticket"]["number"] == "A001"
    again = await service.client.post(f"/v1/kiosk/offers/{second['offer']['diversion_id']}/accept", headers=branch.kiosk)
    assert again.status_code == 409
    div_id = first["offer"]["diversion_id"]
    await find_events(service.settings, "channel.diversions.v1", data_is(type="channel.diversion.accepted.v1", diversion_id=div_id))
    row = await _row(service, diversions, diversion_id=div_id)
    completed = dv.DiversionCompleted(
        diversion_id=div_id, branch_id=branch.branch_id, customer_id="c-div", service_type="cash_withdrawal", channel="atm", rule_set_version=7, rule_id="cash-to-atm", status="completed", completed_by="selfservice", occurred_at=row.created_at
    )
    await send(service.settings, completed)
    await eventually(lambda: _diversion_status(service, div_id, "completed"), what="diversion closed")


async def _diversion_status(service: Service, diversion_id: str, status: str) -> bool:
    row = await _row(service, diversions, diversion_id=diversion_id)
    return row is not None and row.status == status


async def test_an_api_only_instance_decides_with_the_sla_share_the_worker_measured(service: Service) -> None:
    """On Kubernetes the load loop runs in the worker pods and the kiosk API in others: the
    SLA share and abandonment rate must reach the API through Redis, not process memory."""
    branch = await make_branch(service, counters=[["cash"]])
    served = await take_ticket(service, branch)
    counter = branch.counters[0]
    h = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    assert (await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)).json()["ticket"]["ticket_id"] == served["ticket_id"]

    # the worker (this app's load loop) measures the branch: one customer called within the target
    async def measured():
        load = await readmodels_of(service.runtime).branch_load(branch.branch_id)
        return load if load.sla_share == 1.0 else None

    await eventually(measured, timeout_s=30, what="SLA share of the branch in Redis")

    api_only = create_app(service.settings.model_copy(update={"embedded_workers": False}))
    async with running_app(api_only) as client:
        assert "branch_load" not in api_only.state.runtime.state  # nothing measured in this process
        r = await client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=branch.kiosk)
        assert r.status_code == 201, r.text
        ticket_id = r.json()["ticket"]["ticket_id"]
    async with service.runtime.sessions() as s:
        inputs = (await s.execute(select(rule_decisions.c.inputs).where(rule_decisions.c.ticket_id == ticket_id))).scalar_one()
    assert inputs["sla_share"] == 1.0


async def test_offers_made_in_the_app_count_in_the_completion_rates(service: Service) -> None:
    """The gateway evaluates the rules too: its offers' steps arrive on channel.diversions.v1
    and ticketing's completion rates per rule and branch include them (each step once)."""
    branch = await make_branch(service)
    at = utc(2024, 5, 6, 9)
    rule = f"app-rule-{uuid.uuid4().hex[:6]}"

    def step(cls, diversion_id: str, minutes: int, **extra):
        return cls(
            diversion_id=diversion_id, branch_id=branch.branch_id, customer_id="c-app", service_type="transfer", channel="mobile",
            rule_set_version=3, rule_id=rule, status=cls.__name__.removeprefix("Diversion").lower(), occurred_at=at + timedelta(minutes=minutes), **extra,
        )

    done, declined, open_ = (f"app-{uuid.uuid4().hex[:8]}" for _ in range(3))
    await send(
        service.settings,
        step(dv.DiversionOffered, done, 0), step(dv.DiversionAccepted, done, 1), step(dv.DiversionCompleted, done, 5, completed_by="mobile"),
        step(dv.DiversionOffered, declined, 0), step(dv.DiversionDeclined, declined, 1),
        step(dv.DiversionOffered, open_, 0),
        step(dv.DiversionAccepted, done, 1),  # redelivered: counted once
    )

    async def rates():
        r = await service.client.get(f"/v1/rules/completion-rates?branch_id={branch.branch_id}&since=2024-05-06T00:00:00Z&until=2024-05-07T00:00:00Z", headers=branch.ops)
        assert r.status_code == 200, r.text
        rows = [x for x in r.json()["rates"] if x["rule_id"] == rule]
        return rows[0] if rows and rows[0]["completed"] == 1 and rows[0]["offered"] == 3 else None

    row = await eventually(rates, timeout_s=30, what="app offers in the completion rates")
    assert (row["offered"], row["pending"], row["declined"], row["accepted"], row["completed"]) == (3, 1, 1, 1, 1)
    assert row["acceptance_rate"] == 0.5 and row["completion_rate"] == 1.0


async def test_a_tier_raise_on_customer_scores_moves_the_customers_waiting_ticket_forward(service: Service, clock) -> None:  # noqa: ANN001
    """``customer.score.updated`` with a higher tier reaches the queue without a restart:
    the customer's waiting ticket gets the new tier's points, a due time that puts it
    ahead of earlier walk-ins, and an audited raise; a later lower tier does not push it
    back, while new tickets take the lower tier at once."""
    customer = f"C-tier-{uuid.uuid4().hex[:8]}"
    branch = await make_branch(service, counters=[["cash", "payments"]], hours=[{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)])
    clock(datetime.now(UTC).replace(microsecond=0))
    await send(service.settings, CustomerScored(customer_id=customer, score=0.0, percentile=50.0, tier="mass", propensity={}, model_version="t", computed_at=utc(2024, 1, 1)))
    rm = readmodels_of(service.runtime)
    await eventually(lambda: _tier_is(rm, customer, "mass"), what="mass tier in the read model")
    others = [await take_ticket(service, branch) for _ in range(2)]
    mine = await take_ticket(service, branch, customer_id=customer)
    assert mine["priority"] == 0 and mine["position"] == 3

    async def position() -> dict:
        r = await service.client.get(f"/v1/kiosk/tickets/{mine['ticket_id']}", headers=branch.kiosk)
        assert r.status_code == 200, r.text
        return r.json()

    await send(service.settings, CustomerScored(customer_id=customer, score=3.0, percentile=99.5, tier="private", propensity={}, model_version="t", computed_at=utc(2024, 1, 2)))
    await eventually(lambda: _tier_is(rm, customer, "private"), what="private tier in the read model")
    now = await position()
    assert (now["priority"], now["position"]) == (priority.TIER_PRIORITY["private"], 1), now
    raises = await _row(service, priority_raises, ticket_id=mine["ticket_id"])
    assert (raises.from_priority, raises.to_priority, raises.role, raises.reason) == (0, 4, "system", "tier mass -> private")
    behind = [(await service.client.get(f"/v1/kiosk/tickets/{t['ticket_id']}", headers=branch.kiosk)).json()["position"] for t in others]
    assert sorted(behind) == [2, 3]

    await send(service.settings, CustomerScored(customer_id=customer, score=-1.0, percentile=10.0, tier="basic", propensity={}, model_version="t", computed_at=utc(2024, 1, 3)))
    await eventually(lambda: _tier_is(rm, customer, "basic"), what="basic tier in the read model")
    assert (await position())["priority"] == 4  # not pushed back
    assert (await take_ticket(service, branch, customer_id=customer))["priority"] == 0
