"""The channel-rules engine: compile a validated rule set document once, evaluate it for
each request in microseconds.

Evaluation (:func:`evaluate`):

1. The branch's policy: the global rules, minus the ones an override for this branch
   disables, plus the override's own rules (same id = replaces the global rule), with the
   override's settings and default. Rules are ordered by ``priority`` (higher first), ties
   in document order (global rules before branch rules).
2. The first rule whose conditions all hold decides. A ``ticket`` / ``never_divert`` rule
   issues a ticket (priority boost, route, fee notice). An ``offer_*`` rule is subject to
   the protections (:mod:`counterflow_shared.rules.protections`); a vetoed offer is
   skipped (the veto is recorded in ``Decision.vetoes``) and evaluation goes on.
3. No rule decides: the policy's default (a ticket).

Every decision names the rule set version and rule id and carries the inputs (recorded
form, :func:`~counterflow_shared.rules.model.input_to_record`) and the condition names
that the deciding rule looked at (``inputs["used"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from counterflow_shared.rules.model import Decision, DecisionInput, DeviceView, input_to_record
from counterflow_shared.rules.protections import ProtectionSettings, best_device, devices_not_offered, eligible_devices, veto_diversion
from counterflow_shared.rules.schema import OFFER_TYPES

_CHANNEL_OF_OFFER = {"offer_mobile": "mobile", "offer_appointment": "appointment"}
_PROPENSITY_OF_OFFER = {"offer_device": "self_service", "offer_mobile": "mobile", "offer_appointment": "appointment"}
_WEEKDAY_TYPES = ("weekday",) * 5 + ("saturday", "sunday")


@dataclass(frozen=True)
class Action:
    """What a rule (or the default) does; see :data:`~counterflow_shared.rules.schema.ACTION`."""

    type: str
    priority_boost: int = 0
    route_to: str | None = None
    fee_notice: str | None = None
    device_kinds: frozenset[str] | None = None
    message: str | None = None
    offer_ttl_s: int | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Action":
        """Build from the document's ``then`` / ``default`` object."""
        kinds = doc.get("device_kinds")
        return cls(
            type=doc["type"],
            priority_boost=int(doc.get("priority_boost", 0)),
            route_to=doc.get("route_to"),
            fee_notice=doc.get("fee_notice"),
            device_kinds=frozenset(kinds) if kinds else None,
            message=doc.get("message"),
            offer_ttl_s=doc.get("offer_ttl_s"),
        )


class Context:
    """Per-request values several conditions share, computed at most once."""

    def __init__(self, request: DecisionInput, settings: ProtectionSettings) -> None:
        self.request = request
        self.settings = settings
        self._eligible: dict[tuple[frozenset[str] | None, int | None], tuple[DeviceView, ...]] = {}

    def eligible(self, kinds: frozenset[str] | None, queue_max: int | None) -> tuple[DeviceView, ...]:
        """Devices that pass the protections for this request (cached per kinds/queue bound)."""
        key = (kinds, queue_max)
        found = self._eligible.get(key)
        if found is None:
            found = eligible_devices(self.request, self.settings, kinds=kinds, queue_max=queue_max)
            self._eligible[key] = found
        return found

    @cached_property
    def local_minutes(self) -> int | None:
        """Minutes since local midnight in the branch (from ``local_time`` or ``now`` + zone)."""
        r = self.request
        if r.local_time:
            hh, mm = r.local_time[:5].split(":")
            return int(hh) * 60 + int(mm)
        if r.time_zone:
            local = r.now.astimezone(ZoneInfo(r.time_zone))
            return local.hour * 60 + local.minute
        return None

    @cached_property
    def day_type(self) -> str | None:
        """``weekday``/``saturday``/``sunday``/``holiday`` (caller's value wins)."""
        r = self.request
        if r.day_type:
            return r.day_type
        if r.time_zone:
            return _WEEKDAY_TYPES[r.now.astimezone(ZoneInfo(r.time_zone)).weekday()]
        return None


Check = Callable[[Context], bool]


def _clock(text: str) -> int:
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def _in_range(value: float | None, rng: dict[str, float]) -> bool:
    if value is None:
        return False
    lo, hi = rng.get("min"), rng.get("max")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


#: set-membership conditions: document name -> the request attribute it tests (cheapest first)
_MEMBERSHIP: tuple[tuple[str, Callable[[DecisionInput], Any]], ...] = (
    ("branches", lambda r: r.branch_id),
    ("service_types", lambda r: r.service_type),
    ("channels_of_request", lambda r: r.channel_of_request),
    ("zones", lambda r: r.zone),
    ("tiers", lambda r: r.tier or "anonymous"),
    ("currencies", lambda r: r.currency),
)


def _member_of(attribute: Callable[[Any], Any], allowed: frozenset[Any]) -> Check:
    """The check "``attribute`` of the request is one of ``allowed``"."""
    return lambda c: attribute(c.request) in allowed


def _propensity_in(channel: str, rng: Any) -> Check:
    """The check "the customer's propensity for ``channel`` is within ``rng``"."""
    return lambda c: _in_range(c.request.propensity.get(channel), rng)


def _compile_conditions(when: dict[str, Any]) -> tuple[tuple[Check, ...], tuple[str, ...]]:
    """Turn a ``when`` object into predicates over :class:`Context` (cheapest first)."""
    checks: list[Check] = []
    for name, attribute in _MEMBERSHIP:
        if name in when:
            allowed = frozenset(when[name])
            checks.append(_member_of(attribute, allowed))
    if "known_customer" in when:
        known = bool(when["known_customer"])
        checks.append(lambda c: (c.request.customer_id is not None) is known)
    if "not_tiers" in when:
        not_tiers = frozenset(when["not_tiers"])
        checks.append(lambda c: (c.request.tier or "anonymous") not in not_tiers)
    if "amount" in when:
        amount = when["amount"]
        lo = Decimal(amount["min"]) if "min" in amount else None
        hi = Decimal(amount["max"]) if "max" in amount else None
        cur = frozenset(amount["currencies"]) if "currencies" in amount else None

        def _amount(c: Context) -> bool:
            a = c.request.amount
            if a is None:
                return False
            if cur is not None and c.request.currency not in cur:
                return False
            return (lo is None or a >= lo) and (hi is None or a <= hi)

        checks.append(_amount)
    if "needs_any" in when:
        needs_any = frozenset(when["needs_any"])
        checks.append(lambda c: not needs_any.isdisjoint(c.request.needs))
    if "needs_none" in when:
        needs_none = frozenset(when["needs_none"])
        checks.append(lambda c: needs_none.isdisjoint(c.request.needs))
    if "propensity" in when:
        for channel, rng in when["propensity"].items():
            checks.append(_propensity_in(channel, rng))
    if "counter_wait_s" in when:
        rng = when["counter_wait_s"]
        checks.append(lambda c: _in_range(c.request.counter_wait_s, rng))
    if "counter_wait_p90_s" in when:
        rng_p90 = when["counter_wait_p90_s"]
        checks.append(lambda c: _in_range(c.request.counter_wait_p90_s, rng_p90))
    if "p_called_within_sla" in when:
        rng_p = when["p_called_within_sla"]
        checks.append(lambda c: _in_range(c.request.p_called_within_sla, rng_p))
    if "sla_share" in when:
        rng_sla = when["sla_share"]
        checks.append(lambda c: _in_range(c.request.sla_share, rng_sla))
    if "day_types" in when:
        days = frozenset(when["day_types"])
        checks.append(lambda c: c.day_type in days)
    if "time_of_day" in when:
        start, end = _clock(when["time_of_day"]["from"]), _clock(when["time_of_day"]["to"])

        def _time(c: Context) -> bool:
            m = c.local_minutes
            if m is None:
                return False
            return start <= m < end if start <= end else (m >= start or m < end)

        checks.append(_time)
    if "device_available" in when:
        wanted = bool(when["device_available"])
        kinds = frozenset(when["device_kinds"]) if "device_kinds" in when else None
        queue_max = when.get("device_queue_max")
        checks.append(lambda c: bool(c.eligible(kinds, queue_max)) is wanted)
    return tuple(checks), tuple(sorted(when))


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to evaluate: ``checks`` all true = match; ``uses`` = condition names."""

    id: str
    priority: int
    order: int
    action: Action
    checks: tuple[Check, ...]
    uses: tuple[str, ...]
    device_kinds: frozenset[str] | None = None
    device_queue_max: int | None = None
    description: str = ""
    service_types: frozenset[str] | None = None


@dataclass(frozen=True)
class Policy:
    """The effective rules, settings and default of one branch (or of every branch
    without override)."""

    settings: ProtectionSettings
    rules: tuple[CompiledRule, ...]
    default: Action
    by_service: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    generic: tuple[CompiledRule, ...] = ()

    @classmethod
    def build(cls, settings: ProtectionSettings, rules: list[CompiledRule], default: Action) -> "Policy":
        """Order ``rules`` and index them by service type: a request only walks the rules
        that can match its service type (same order as the full list)."""
        ordered = _ordered(rules)
        services = {s for r in ordered for s in (r.service_types or ())}
        by_service = {s: tuple(r for r in ordered if r.service_types is None or s in r.service_types) for s in services}
        generic = tuple(r for r in ordered if r.service_types is None)
        return cls(settings=settings, rules=ordered, default=default, by_service=by_service, generic=generic)

    def candidates(self, service_type: str) -> tuple[CompiledRule, ...]:
        """The rules that may match a request for ``service_type``, in evaluation order."""
        return self.by_service.get(service_type, self.generic)


@dataclass(frozen=True)
class RuleSet:
    """A compiled, immutable rule set version. Build with :func:`compile_rule_set` or
    :func:`~counterflow_shared.rules.loader.load_rule_set`; evaluate with :func:`evaluate`."""

    rule_set_id: str
    version: int
    name: str
    document: dict[str, Any]
    base: Policy
    by_branch: dict[str, Policy] = field(default_factory=dict)

    def policy_for(self, branch_id: str) -> Policy:
        """The policy of ``branch_id`` (its override, else the global one)."""
        return self.by_branch.get(branch_id, self.base)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the global rules in evaluation order."""
        return tuple(r.id for r in self.base.rules)


def _compile_rule(doc: dict[str, Any], order: int) -> CompiledRule:
    when = doc.get("when", {})
    checks, uses = _compile_conditions(when)
    action = Action.from_doc(doc["then"])
    return CompiledRule(
        id=doc["id"],
        priority=int(doc.get("priority", 0)),
        order=order,
        action=action,
        checks=checks,
        uses=uses,
        device_kinds=action.device_kinds or (frozenset(when["device_kinds"]) if "device_kinds" in when else None),
        device_queue_max=when.get("device_queue_max"),
        description=doc.get("description", ""),
        service_types=frozenset(when["service_types"]) if "service_types" in when else None,
    )


def _ordered(rules: list[CompiledRule]) -> tuple[CompiledRule, ...]:
    return tuple(sorted(rules, key=lambda r: (-r.priority, r.order)))


def compile_rule_set(document: dict[str, Any], *, version: int, rule_set_id: str = "channel-rules") -> RuleSet:
    """Compile a VALIDATED document (see :func:`~counterflow_shared.rules.loader.load_document`)."""
    settings = ProtectionSettings.from_doc(document.get("settings", {}))
    global_rules = [_compile_rule(r, i) for i, r in enumerate(document.get("rules", [])) if r.get("enabled", True)]
    default = Action.from_doc(document.get("default") or {"type": "ticket"})
    base = Policy.build(settings, global_rules, default)
    by_branch: dict[str, Policy] = {}
    offset = len(document.get("rules", []))
    for override in document.get("overrides", []):
        own = [_compile_rule(r, offset + i) for i, r in enumerate(override.get("rules", [])) if r.get("enabled", True)]
        replaced = {r.id for r in own} | set(override.get("disable", []))
        merged = [r for r in global_rules if r.id not in replaced] + own
        policy = Policy.build(
            settings.merged(override.get("settings", {})),
            merged,
            Action.from_doc(override["default"]) if "default" in override else default,
        )
        offset += len(override.get("rules", []))
        for branch in override["branches"]:
            by_branch[branch] = policy
    return RuleSet(rule_set_id=rule_set_id, version=version, name=document["name"], document=document, base=base, by_branch=by_branch)


def _ticket(rule_set: RuleSet, rule_id: str, action: Action, request: DecisionInput, uses: tuple[str, ...], vetoes: list[str], why: str, settings: ProtectionSettings) -> Decision:
    return Decision(
        kind="ticket",
        rule_set_version=rule_set.version,
        rule_id=rule_id,
        channel="counter",
        priority_boost=action.priority_boost,
        route_to=action.route_to,
        fee_notice=action.fee_notice,
        explanation=why,
        inputs={**input_to_record(request), "used": list(uses)},
        message=action.message,
        vetoes=tuple(vetoes),
        devices_not_offered=devices_not_offered(request, settings, None),
    )


def evaluate(rule_set: RuleSet, request: DecisionInput) -> Decision:
    """Decide for ``request`` under ``rule_set`` (see the module docstring for the order).

    Never raises for well-formed inputs; a request without the data a condition needs
    (unknown wait, anonymous customer...) simply does not match that condition.
    """
    policy = rule_set.policy_for(request.branch_id)
    ctx = Context(request, policy.settings)
    vetoes: list[str] = []
    for rule in policy.candidates(request.service_type):
        matched = True
        for check in rule.checks:
            if not check(ctx):
                matched = False
                break
        if not matched:
            continue
        action = rule.action
        if action.type not in OFFER_TYPES:
            return _ticket(rule_set, rule.id, action, request, rule.uses, vetoes, f"rule {rule.id}: {rule.description or action.type}", policy.settings)
        device: DeviceView | None = None
        if action.type == "offer_device":
            device = best_device(ctx.eligible(rule.device_kinds, rule.device_queue_max))
        reason = veto_diversion(request, policy.settings, action.type, device)
        if reason is not None:
            vetoes.append(f"{rule.id}:{reason}")
            continue
        channel = device.kind if device is not None else _CHANNEL_OF_OFFER[action.type]
        return Decision(
            kind="offer",
            rule_set_version=rule_set.version,
            rule_id=rule.id,
            channel=channel,
            device_id=device.device_id if device is not None else None,
            fee_notice=action.fee_notice,
            explanation=f"rule {rule.id}: {rule.description or action.type}",
            inputs={**input_to_record(request), "used": list(rule.uses)},
            expected_accept=request.propensity.get(_PROPENSITY_OF_OFFER[action.type]),
            offer_ttl_s=action.offer_ttl_s or policy.settings.default_offer_ttl_s,
            message=action.message,
            vetoes=tuple(vetoes),
            devices_not_offered=devices_not_offered(request, policy.settings, device.device_id if device is not None else None),
        )
    return _ticket(rule_set, "default", policy.default, request, (), vetoes, "no rule matched: default", policy.settings)
