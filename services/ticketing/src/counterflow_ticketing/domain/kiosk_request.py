"""A kiosk service request at the cost of one transaction (ADR 0150).

Budget, for every request shape (walk-in, known customer, ``Idempotency-Key``, branch
with self-service devices, routed by a rule, diversion offer): **one Redis round trip**
(a pipeline: rate limit, customer score, rule-set version stamp, the branch's devices,
its last measured load, the read-model guard's markers) and **two PostgreSQL round
trips** (one read statement, which also reads the kiosk row its credentials are checked
against, and one write statement of data-modifying CTEs, both on an autocommit connection, see
:mod:`counterflow_ticketing.persistence.kiosk_statements`). An ``Idempotency-Key``
replay costs the Redis pipeline and the read only. The round trips are counted by
``services/ticketing/tests/test_round_trips.py``.

The decision and the ticket are the same as on the general path
(:func:`counterflow_ticketing.domain.intake.request_service`, still used for appointment
check-ins): :func:`~counterflow_ticketing.domain.intake.decision_input`,
:func:`~counterflow_shared.rules.decide`, :mod:`priority` and :func:`queue.ticket_view`.
The guarantees of issue 3 hold: the sequence row lock serialises numbers (never given
twice in a business day), the event's outbox row is written by the same statement as
the ticket, and a key's stored answer is written by that statement too (a concurrent
twin's statement fails on the key's primary key, rolls back entirely, and answers with
the stored result).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse

from counterflow_shared.events.payloads import diversions as dv
from counterflow_shared.events.payloads import tickets as tk
from counterflow_shared.events.payloads.diversions import diversion_step
from counterflow_shared.rules import Decision, records
from counterflow_shared.web.idempotency import check_key, request_fingerprint
from counterflow_shared.web.problems import Problem, invalid, not_found
from counterflow_ticketing.api.deps import KioskCredentials, verify_kiosk
from counterflow_ticketing.domain import calendar, intake, priority, queue, routing
from counterflow_ticketing.domain.context import Ctx, active_rules_of, ctx_for, readmodels_of, remember_branch_load
from counterflow_ticketing.domain.estimation import LearnedTime
from counterflow_ticketing.domain.intake import decision_input, offer_view
from counterflow_ticketing.domain.statement_path import event_values, replayed, write_once
from counterflow_ticketing.domain.wait_model import WaitModel
from counterflow_ticketing.domain.waits import CounterPool
from counterflow_ticketing.events.publishers import ticket_transition
from counterflow_ticketing.persistence import kiosk_statements as sql
from counterflow_ticketing.persistence.queue_state_repo import OpenCounter

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

#: replaced by the display number inside the write statement (never a valid number)
NUMBER_TOKEN = f"~number-{uuid.uuid4().hex}~"


@dataclass(frozen=True)
class ReadState:
    """What the read statement returned, parsed."""

    branch: Any
    st: Any
    pool: CounterPool
    live: list[Any]
    urgent: int
    due_epochs: list[float]


def _parse(row: Any, branch_id: str, service_type: str) -> ReadState:
    if row.active is None or not row.active:
        raise not_found("branch", branch_id)
    if row.service_type is None:
        raise invalid("body.service_type", f"branch {branch_id} does not offer service type {service_type!r}")
    branch = SimpleNamespace(branch_id=branch_id, active=row.active, time_zone=row.time_zone, max_wait_s=row.max_wait_s, closed_days=json.loads(row.closed_days))
    st = SimpleNamespace(service_type=row.service_type, prefix=row.prefix, skill=row.skill, default_service_s=row.default_service_s, zone=row.zone)
    live = [SimpleNamespace(counter_id=c, skills=s or [], teller_id=t, kind=k, zone=z, status=ss) for c, s, t, k, z, ss in json.loads(row.live)]
    open_counters = [OpenCounter(c.counter_id, list(c.skills), c.teller_id) for c in live if c.status == "open"]
    learned = {(a, b): LearnedTime(float(m), int(n), None if sq is None else float(sq)) for a, b, n, m, sq in json.loads(row.learned)}
    waiting = {k: int(v) for k, v in json.loads(row.waiting).items()}
    pool = CounterPool(
        open_counters,
        frozenset(c for c in json.loads(row.busy) if c),
        learned,
        waiting,
        {} if row.head_of_line_epoch is None else {st.skill: float(row.head_of_line_epoch)},
        {} if row.last_entered_s is None else {st.skill: max(0.0, float(row.last_entered_s))},
        WaitModel.from_json(None if row.wait_model is None else json.loads(row.wait_model)),
    )
    urgent, dues = json.loads(row.skill_queue)
    return ReadState(branch, st, pool, live, int(urgent), [float(d) for d in dues])


def _ahead(state: ReadState, due_epoch: float) -> int:
    """Waiting tickets of the skill before a ticket queued now with due date ``due_epoch``
    (call order of :mod:`priority`: urgent ones, then earlier or equal due dates, which
    arrived earlier)."""
    return state.urgent + sum(1 for d in state.due_epochs if d <= due_epoch)


async def request_service(runtime: "ServiceRuntime", *, credentials: KioskCredentials, request: dict[str, Any], idempotency_key: str | None) -> JSONResponse:
    """Answer a kiosk's service request (no appointment) within the round-trip budget:
    the read (kiosk row, branch, queue, stored answer), the Redis pipeline, the decision,
    the write.

    ``request``: ``service_type``, optional ``customer_id``, ``amount`` (Decimal string) +
    ``currency``, ``needs``. Returns a 201 JSON response ``{"kind": "ticket", ...}`` or
    ``{"kind": "offer", ...}`` (the stored one with ``Idempotent-Replayed: true`` on a replay).

    Raises:
        Problem: 401 unknown kiosk or wrong secret; 429 over the kiosk's rate limit; 404
            branch; 422 naming the field (service type not offered, bad or reused
            ``Idempotency-Key``); 503 while a lost read model is rebuilt.
    """
    if idempotency_key is not None:
        check_key(idempotency_key)
    ctx = await ctx_for(runtime)
    settings = ctx.settings
    kiosk_id = credentials.kiosk_id
    customer_id = request.get("customer_id")
    scope = f"kiosk:{kiosk_id}:service-requests"
    fingerprint = request_fingerprint(request) if idempotency_key is not None else ""
    params = {"kiosk_id": kiosk_id, "service_type": request["service_type"], "now": ctx.now, "guard_s": settings.ageing_guard_s, "scope": scope, "key": idempotency_key}
    # the connection is held for one statement at a time: not while the kiosk secret is
    # verified (Argon2 on a cache miss), Redis is read or the rules decide
    async with runtime.autocommit.connect() as conn:
        row = (await conn.execute(sql.READ, params)).one()
    kiosk = None if row.kiosk_active is None else SimpleNamespace(active=row.kiosk_active, secret_hash=row.secret_hash, branch_id=row.kiosk_branch_id)
    branch_id = (await verify_kiosk(runtime, kiosk, credentials)).branch_id
    red = await readmodels_of(runtime).kiosk_state(kiosk_id=kiosk_id, minute=int(time.time() // 60), branch_id=branch_id, customer_id=customer_id, rules=active_rules_of(runtime))
    if red.requests_this_minute > settings.kiosk_requests_per_minute:
        raise Problem(429, "rate-limited", "Too many requests", f"kiosk {kiosk_id} exceeded {settings.kiosk_requests_per_minute} requests per minute", retry_after_s=60 - int(time.time() % 60))
    if row.replay is not None:
        return replayed(row.replay, fingerprint)
    remember_branch_load(ctx, branch_id, red.load)
    state = _parse(row, branch_id, request["service_type"])
    rule_set = await red.rule_set()
    inp = await decision_input(None, ctx, state.branch, state.st, request, red.tier, red.propensity, state.pool, red.devices, red.load)  # type: ignore[arg-type]
    decision: Decision = intake.decide(rule_set, inp)  # intake's decide: one decision function for both paths
    record = records.decision_row(decision, at=ctx.now, branch_id=branch_id, service_type=state.st.service_type, customer_id=customer_id)
    if decision.kind == "offer":
        values, body = _offer(runtime, ctx, kiosk_id, branch_id, request, decision, record)
        stmt = sql.offer_write(idempotent=idempotency_key is not None)
    else:
        values, body = _ticket(runtime, ctx, state, branch_id, customer_id, red.tier, decision, record)
        stmt = sql.ticket_write(idempotent=idempotency_key is not None)
    if idempotency_key is not None:
        values.update(scope=scope, key=idempotency_key, request_hash=fingerprint, status_code=201, response=json.dumps(body, default=str))
    async with runtime.autocommit.connect() as conn:
        result = await write_once(conn, stmt, values, scope=scope, key=idempotency_key, fingerprint=fingerprint)
    if isinstance(result, JSONResponse):
        return result
    if runtime.outages.since is not None:
        runtime.outages.ok()  # the database answers again (as the session dependency reports it)
    if decision.kind != "offer":
        body["ticket"]["number"] = result.number
    return JSONResponse(body, status_code=201)


def _decision_values(record: dict[str, Any]) -> dict[str, Any]:
    values = {f"d_{k}": v for k, v in record.items() if k not in ("decision_id", "decided_at")}
    values["d_inputs"] = json.dumps(record["inputs"], default=str)
    values["d_detail"] = json.dumps(record["detail"], default=str)
    values.update(decision_id=record["decision_id"], decided_at=record["decided_at"])
    return values


def _ticket(runtime: "ServiceRuntime", ctx: Ctx, state: ReadState, branch_id: str, customer_id: str | None, tier: str | None, decision: Decision, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    branch, st, settings = state.branch, state.st, ctx.settings
    route_to = decision.route_to
    fallback = route_to is not None and (route_to, st.skill) not in routing.served_pairs(state.live)
    points = priority.priority_of(tier=tier, appointment=False, boost=decision.priority_boost)
    due = priority.due_at(ctx.now, points, max_wait_s=branch.max_wait_s, step_s=settings.priority_step_s)
    day: date = calendar.business_date(ctx.now, branch.time_zone)
    ticket_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "branch_id": branch_id,
        "business_date": day,
        "prefix": st.prefix,
        "service_type": st.service_type,
        "skill": st.skill,
        "origin": str(tk.TicketOrigin.WALK_IN),
        "priority": points,
        "customer_id": customer_id,
        "tier": tier,
        "issued_at": ctx.now,
        "due_at": due,
        "diversion_id": None,
        "route_to": route_to,
        "route_fallback": fallback,
    }
    t = SimpleNamespace(
        **values, number=NUMBER_TOKEN, status="waiting", queued_at=ctx.now, counter_id=None, teller_id=None, call_count=0, outcome=None, remote_request_id=None, appointment_id=None
    )
    ahead = _ahead(state, due.timestamp())
    pool = state.pool
    queue_view, forecast = queue.wait_forecast(ctx, pool, branch_id, skill=st.skill, service_type=st.service_type, default_s=st.default_service_s, ahead=ahead, priority=points)
    values["wait_view"] = json.dumps(queue_view.to_json())
    view = queue.ticket_fields(t, position=ahead + 1, forecast=forecast)
    payload = ticket_transition(tk.TicketIssued, t, at=ctx.now, view=view)
    record["ticket_id"] = ticket_id
    values.update(event_values(runtime, ctx, payload), token=NUMBER_TOKEN)
    values.update(_decision_values(record))
    explanation = decision.explanation
    if fallback:
        explanation = f"{explanation}; no open counter takes {route_to}: normal queue with priority boost {decision.priority_boost}".lstrip("; ")
    body = {
        "kind": "ticket",
        "ticket": view,
        "rule_id": decision.rule_id,
        "rule_set_version": decision.rule_set_version,
        "fee_notice": decision.fee_notice,
        "route_to": route_to,
        "route_fallback": fallback,
        "explanation": explanation,
    }
    return values, body


def _offer(runtime: "ServiceRuntime", ctx: Ctx, kiosk_id: str, branch_id: str, request: dict[str, Any], decision: Decision, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    values = intake.offer_values(ctx, branch_id=branch_id, kiosk_id=kiosk_id, request=request, decision=decision)
    diversion_id = values["diversion_id"]
    d = SimpleNamespace(**values, ticket_id=None)
    view = offer_view(d)
    view["explanation"] = decision.explanation
    record["diversion_id"] = diversion_id
    values["request"] = json.dumps(values["request"], default=str)
    del values["status"]  # the statement writes 'offered'
    values.update(event_values(runtime, ctx, diversion_step(dv.DiversionOffered, d, at=ctx.now)), token=NUMBER_TOKEN)
    values.update(_decision_values(record))
    return values, {"kind": "offer", "offer": view}
