"""What-if: what a proposed rule set would have done with recorded traffic, side by side
with the active one.

Recorded traffic is a sequence of decision inputs in their recorded form
(:func:`~counterflow_shared.rules.model.input_to_record`), one JSON object per line (JSON
lines); ticketing's decision records hold exactly this in ``inputs``.

For each rule set the report gives, over the window: decisions and offers per rule,
expected accepted offers (sum of the customer's propensity for the offered channel, or
``assumptions.default_accept`` when unknown), the expected counter load (customers and
service seconds that still reach a counter) and expected counter waits.

Waits come from a deterministic fluid queue per branch (Newell, *Applications of Queueing
Theory*, 2nd ed., 1982, ch. 2): ``counters`` servers drain queued work at ``counters``
seconds per second; each arrival adds ``P(counter) x service time`` of work and expects
to wait ``backlog / counters``. It is a mean-value model: it shows how much counter work a
rule set moves away and how the queue responds, not the variance of single waits.
Decisions use the recorded inputs as they were (the recorded counter waits are not
re-simulated under the proposed set: no feedback from the new waits into the conditions).

Deterministic: no randomness, records sorted by (time, position), figures rounded to 6
decimals; the same inputs give the same report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from counterflow_shared.rules.engine import RuleSet, evaluate
from counterflow_shared.rules.model import Decision, DecisionInput, decide, input_from_record

#: Counter service time per service type (seconds) when the caller gives none. Bank
#: assumptions, not measured: routine cash 3-4 min, advice 30-45 min; override per run.
DEFAULT_SERVICE_TIME_S: dict[str, float] = {
    "cash_withdrawal": 180.0,
    "cash_deposit": 240.0,
    "transfer": 240.0,
    "bill_payment": 180.0,
    "statement": 120.0,
    "card_services": 420.0,
    "foreign_exchange": 300.0,
    "account_opening": 1800.0,
    "loan_consultation": 2700.0,
    "wealth_management": 2700.0,
    "complaint": 900.0,
}


class TrafficInvalid(ValueError):
    """A recorded traffic line is unusable; ``line`` is 1-based, ``field`` names the field."""

    def __init__(self, line: int, field: str, message: str) -> None:
        self.line, self.field, self.message = line, field, message
        super().__init__(f"line {line}: {field}: {message}")


def parse_traffic(lines: Iterable[str | dict[str, Any]]) -> list[DecisionInput]:
    """Parse recorded traffic (JSON-lines text lines or already-parsed objects); blank
    lines are skipped. Amounts must be decimal strings (a JSON float is refused, as
    everywhere money travels).

    Raises:
        TrafficInvalid: naming the line and field.
    """
    out = []
    for number, line in enumerate(lines, start=1):
        if isinstance(line, str):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrafficInvalid(number, "record", f"not JSON: {exc.msg}") from exc
        else:
            data = line
        try:
            out.append(input_from_record(data))
        except ValueError as exc:
            field_name, _, message = str(exc).partition(": ")
            raise TrafficInvalid(number, field_name, message or str(exc)) from exc
    return out


@dataclass(frozen=True)
class Assumptions:
    """Parameters of the load model (all stated in the report).

    Attributes:
        counters: open counters per branch (servers of the fluid queue); ``counters_by_branch``
            overrides it for named branches.
        service_time_s: counter service time per service type (seconds).
        default_service_time_s: for service types not listed (seconds).
        default_accept: acceptance probability when the customer's propensity is unknown.
    """

    counters: int = 3
    counters_by_branch: dict[str, int] = field(default_factory=dict)
    service_time_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SERVICE_TIME_S))
    default_service_time_s: float = 300.0
    default_accept: float = 0.3

    def service_time(self, service_type: str) -> float:
        """Counter service time of ``service_type`` (seconds)."""
        return float(self.service_time_s.get(service_type, self.default_service_time_s))

    def counters_of(self, branch_id: str) -> int:
        """Open counters of ``branch_id`` (at least 1)."""
        return max(1, int(self.counters_by_branch.get(branch_id, self.counters)))


def _r(x: float) -> float:
    return round(float(x), 6)


def accept_probability(decision: Decision, assumptions: Assumptions) -> float:
    """Expected probability that ``decision`` takes the customer away from the counter
    (0 for tickets)."""
    if decision.kind != "offer":
        return 0.0
    p = decision.expected_accept if decision.expected_accept is not None else assumptions.default_accept
    return min(1.0, max(0.0, p))


def simulate(rule_set: RuleSet | None, traffic: list[DecisionInput], assumptions: Assumptions) -> dict[str, Any]:
    """Decide every record of ``traffic`` under ``rule_set`` and model the counter load.

    Returns a JSON-ready dict (counts, expected values in customers, seconds)."""
    order = sorted(range(len(traffic)), key=lambda i: (traffic[i].now, i))
    decisions_per_rule: dict[str, int] = defaultdict(int)
    offers_per_rule: dict[str, int] = defaultdict(int)
    accepted_per_rule: dict[str, float] = defaultdict(float)
    offers_per_channel: dict[str, int] = defaultdict(int)
    per_branch: dict[str, dict[str, Any]] = {}
    vetoes: dict[str, int] = defaultdict(int)
    decisions: list[dict[str, Any]] = [None] * len(traffic)  # type: ignore[list-item]
    expected_accepted = counter_customers = counter_work = 0.0
    offers = 0
    for i in order:
        request = traffic[i]
        decision = evaluate(rule_set, request) if rule_set is not None else decide(None, request)
        p_accept = accept_probability(decision, assumptions)
        p_counter = 1.0 - p_accept
        work = p_counter * assumptions.service_time(request.service_type)
        decisions_per_rule[decision.rule_id] += 1
        for v in decision.vetoes:
            vetoes[v.split(":", 1)[1]] += 1
        if decision.kind == "offer":
            offers += 1
            offers_per_rule[decision.rule_id] += 1
            offers_per_channel[decision.channel] += 1
            accepted_per_rule[decision.rule_id] += p_accept
        expected_accepted += p_accept
        counter_customers += p_counter
        counter_work += work
        b = per_branch.setdefault(request.branch_id, {"records": 0, "offers": 0, "expected_accepted": 0.0, "counter_customers": 0.0, "counter_work_s": 0.0, "_backlog": 0.0, "_t": None, "_wait_sum": 0.0, "_wait_max": 0.0})
        counters = assumptions.counters_of(request.branch_id)
        if b["_t"] is not None:
            elapsed = (request.now - b["_t"]).total_seconds()
            b["_backlog"] = max(0.0, b["_backlog"] - counters * elapsed)
        b["_t"] = request.now
        wait = b["_backlog"] / counters
        b["_wait_sum"] += p_counter * wait
        b["_wait_max"] = max(b["_wait_max"], wait if p_counter > 0 else 0.0)
        b["_backlog"] += work
        b["records"] += 1
        b["offers"] += decision.kind == "offer"
        b["expected_accepted"] += p_accept
        b["counter_customers"] += p_counter
        b["counter_work_s"] += work
        decisions[i] = {"kind": decision.kind, "rule_id": decision.rule_id, "channel": decision.channel, "device_id": decision.device_id}
    wait_sum = sum(b["_wait_sum"] for b in per_branch.values())
    branches = {
        bid: {
            "records": b["records"],
            "offers": b["offers"],
            "expected_accepted": _r(b["expected_accepted"]),
            "expected_counter_customers": _r(b["counter_customers"]),
            "expected_counter_work_s": _r(b["counter_work_s"]),
            "expected_wait_mean_s": _r(b["_wait_sum"] / b["counter_customers"]) if b["counter_customers"] else 0.0,
            "expected_wait_max_s": _r(b["_wait_max"]),
            "counters": assumptions.counters_of(bid),
        }
        for bid, b in sorted(per_branch.items())
    }
    return {
        "version": rule_set.version if rule_set is not None else None,
        "name": rule_set.name if rule_set is not None else None,
        "decisions": len(traffic),
        "offers": offers,
        "decisions_per_rule": dict(sorted(decisions_per_rule.items())),
        "offers_per_rule": dict(sorted(offers_per_rule.items())),
        "offers_per_channel": dict(sorted(offers_per_channel.items())),
        "expected_accepted": _r(expected_accepted),
        "expected_accepted_per_rule": {k: _r(v) for k, v in sorted(accepted_per_rule.items())},
        "expected_counter_customers": _r(counter_customers),
        "expected_counter_work_s": _r(counter_work),
        "expected_wait_mean_s": _r(wait_sum / counter_customers) if counter_customers else 0.0,
        "vetoes": dict(sorted(vetoes.items())),
        "per_branch": branches,
        "_decisions": decisions,
    }


def what_if(proposed: RuleSet, active: RuleSet | None, traffic: list[DecisionInput], assumptions: Assumptions | None = None) -> dict[str, Any]:
    """The side-by-side report of ``proposed`` against ``active`` (``None`` = no active set:
    every customer gets a ticket) over ``traffic``.

    Returns ``{"window", "assumptions", "active", "proposed", "delta", "changed_decisions"}``;
    ``delta`` is proposed minus active for the headline figures.
    """
    assumptions = assumptions or Assumptions()
    a = simulate(active, traffic, assumptions)
    p = simulate(proposed, traffic, assumptions)
    changed = sum(1 for x, y in zip(a.pop("_decisions"), p.pop("_decisions"), strict=True) if x != y)
    headline = ("offers", "expected_accepted", "expected_counter_customers", "expected_counter_work_s", "expected_wait_mean_s")
    times = sorted(r.now for r in traffic)
    return {
        "window": {
            "records": len(traffic),
            "from": times[0].isoformat() if times else None,
            "to": times[-1].isoformat() if times else None,
            "branches": sorted({r.branch_id for r in traffic}),
        },
        "assumptions": asdict(assumptions),
        "active": a,
        "proposed": p,
        "delta": {k: _r(p[k] - a[k]) for k in headline},
        "changed_decisions": changed,
    }
