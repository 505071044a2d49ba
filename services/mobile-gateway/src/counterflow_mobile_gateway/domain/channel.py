"""The channel rules in the app: when a customer asks to join a branch queue, the gateway
asks the channel-rules engine first (the same engine and the same active rule set as
ticketing's kiosks; issue 7).

Inputs the gateway knows (:func:`decision_input`):

* tier and propensity per channel: the ``customer.scores.v1`` read model (Redis, shared
  :class:`~counterflow_shared.readmodel.CustomerScores`; unknown customer: no tier);
* the counter wait for the service and the branch's SLA share: the last
  ``branch.load.v1`` snapshot (``None`` when none arrived: a rule that needs it does not
  hold, and the protections never divert on an unknown wait);
* branch time zone and closed days: the ``branch.directory.v1`` profile (the engine derives
  local time and day type; a closed day is ``holiday``);
* amount, currency and needs flags: from the app's request when given;
* self-service devices: **unknown** (the gateway does not follow
  ``selfservice.devices.v1``): ``devices=()``, so an ``offer_device`` rule is always
  vetoed here (``no_eligible_device``) and evaluation goes on to the next rule;
* zone: unknown (``None``); ``channel_of_request`` is ``mobile``.

A ``ticket`` decision requests the remote ticket carrying the decision (ticketing applies
its priority boost and route); an ``offer`` is returned to the app instead of a ticket
(:mod:`counterflow_mobile_gateway.domain.offers`). Every decision is recorded in
``rule_decisions`` with rule set version, rule id and inputs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.catalog import CHANNEL_RULES, CUSTOMER_SCORES
from counterflow_shared.events.payloads.branches import BranchProfile
from counterflow_shared.events.security import client_options
from counterflow_shared.readmodel import CustomerScores, ReadModelGuard
from counterflow_shared.rules import Decision, DecisionInput, decide, records
from counterflow_shared.rules.active import ActiveRuleSet
from counterflow_mobile_gateway.domain import branches, offers, tickets
from counterflow_mobile_gateway.persistence.tables import rule_decisions

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


def active_rules_of(runtime: "ServiceRuntime") -> ActiveRuleSet:
    """The process's :class:`ActiveRuleSet` (scope ``global``, Redis keys under the
    service's ``redis_prefix``), created on first use."""
    rules = runtime.state.get("active_rules")
    if rules is None:
        rules = ActiveRuleSet(runtime.redis, key_prefix=runtime.settings.redis_prefix)
        runtime.state["active_rules"] = rules
    return rules


def scores_of(runtime: "ServiceRuntime") -> CustomerScores:
    """The ``customer.scores.v1`` read model under the service's ``redis_prefix``."""
    return CustomerScores(runtime.redis, runtime.settings.redis_prefix)


def read_model_guard(runtime: "ServiceRuntime") -> ReadModelGuard:
    """The :class:`ReadModelGuard` of the gateway's read models (active rule set, customer
    scores), created once per runtime."""
    guard = runtime.state.get("readmodel_guard")
    if guard is None:
        s = runtime.settings
        models = [
            active_rules_of(runtime).model(s.kafka_bootstrap_servers, s.topic(CHANNEL_RULES.name), kafka=client_options(s)),
            scores_of(runtime).model(s.kafka_bootstrap_servers, s.topic(CUSTOMER_SCORES.name), timeout_s=s.kafka_request_timeout_s * 4, kafka=client_options(s)),
        ]
        guard = runtime.state["readmodel_guard"] = ReadModelGuard(runtime.redis, models, wait_s=s.readmodel_wait_s)
    return guard


async def build_read_models(runtime: "ServiceRuntime") -> None:
    """Start-up hook: replay ``channel.rules.v1`` and ``customer.scores.v1`` into an empty
    Redis (each read model once per Redis, by its marker key)."""
    await read_model_guard(runtime).ensure()


async def watch_read_models(runtime: "ServiceRuntime") -> None:
    """Background loop: notice lost read models (Redis flushed or restarted) and rebuild
    them from the compacted topics while serving."""
    await read_model_guard(runtime).watch(runtime.settings.readmodel_check_s)


async def decision_input(
    session: AsyncSession,
    runtime: "ServiceRuntime",
    profile: BranchProfile,
    *,
    customer_id: str,
    service_type: str,
    amount: Decimal | None,
    currency: str | None,
    needs: frozenset[str],
    now: datetime,
) -> DecisionInput:
    """The engine's view of an app request (see the module docstring for each source)."""
    tier, propensity = await scores_of(runtime).get(customer_id)
    load = await branches.load_snapshot(session, profile.branch_id)
    local_day = now.astimezone(ZoneInfo(profile.time_zone)).date()
    return DecisionInput(
        branch_id=profile.branch_id,
        service_type=service_type,
        now=now,
        amount=amount,
        currency=currency,
        customer_id=customer_id,
        tier=tier,
        propensity=propensity,
        needs=needs,
        counter_wait_s=branches.service_wait(load, service_type),
        devices=(),
        day_type="holiday" if local_day in profile.closed_days else None,
        sla_share=load.sla_share if load is not None else None,
        channel_of_request="mobile",
        time_zone=profile.time_zone,
    )


def decision_view(decision: Decision) -> dict[str, Any]:
    """What the app is told about a decision: kind, rule set version, rule id, channel,
    priority boost (points), route, fee notice and the engine's explanation."""
    return {
        "kind": decision.kind,
        "rule_set_version": decision.rule_set_version,
        "rule_id": decision.rule_id,
        "channel": decision.channel,
        "priority_boost": decision.priority_boost,
        "route_to": decision.route_to,
        "fee_notice": decision.fee_notice,
        "explanation": decision.explanation,
    }


async def request_service(
    session: AsyncSession,
    runtime: "ServiceRuntime",
    *,
    customer_id: str,
    branch_id: str,
    service_type: str,
    travel_time_s: float | None,
    amount: Decimal | None,
    currency: str | None,
    needs: frozenset[str],
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """The app asks to join ``branch_id``'s ``service_type`` queue: decide, then either
    ``(202, {"kind": "ticket", <pending ticket>, "decision"})`` (remote ticket requested
    with the decision) or ``(200, {"kind": "offer", "offer", "decision"})`` (no ticket yet;
    accept or decline the offer).

    Raises:
        Problem: 404 unknown branch; 422 ``body.service_type`` not offered; 409
            ``branch-inactive``; 409 ``remote-ticket-limit`` (ticket decisions only).
    """
    profile = await branches.profile_of(session, branch_id)
    branches.require_service(profile, service_type)
    # never decide on lost read models: wait for their rebuild or answer 503 (ADR 0166)
    await read_model_guard(runtime).require()
    request = await decision_input(session, runtime, profile, customer_id=customer_id, service_type=service_type, amount=amount, currency=currency, needs=needs, now=now)
    decision = decide(await active_rules_of(runtime).current(), request)
    links = {"branch_id": branch_id, "service_type": service_type, "customer_id": customer_id}
    if decision.kind == "offer":
        offer = await offers.record_offer(session, runtime, decision, customer_id=customer_id, branch_id=branch_id, service_type=service_type, amount=amount, currency=currency, travel_time_s=travel_time_s, now=now)
        await records.record_decision(session, rule_decisions, decision, at=now, diversion_id=offer["diversion_id"], **links)
        return 200, {"kind": "offer", "offer": offer, "decision": decision_view(decision)}
    ticket = await tickets.request_remote_ticket(
        session, runtime, customer_id=customer_id, branch_id=branch_id, service_type=service_type, travel_time_s=travel_time_s, now=now, profile=profile, decision=decision
    )
    await records.record_decision(session, rule_decisions, decision, at=now, ticket_id=ticket["id"], **links)
    return 202, {"kind": "ticket", **ticket, "decision": decision_view(decision)}
