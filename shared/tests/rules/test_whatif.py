"""What-if on a recorded window: side by side, deterministic."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from counterflow_shared.rules import input_to_record, load_rule_set
from counterflow_shared.rules.whatif import Assumptions, TrafficInvalid, parse_traffic, what_if

from .conftest import NOW, atm, device_rule_set, request


def _window() -> list[str]:
    """A morning of 40 requests in two branches, as JSON lines."""
    services = ["cash_withdrawal", "transfer", "cash_withdrawal", "loan_consultation", "cash_withdrawal"]
    lines = []
    for i in range(40):
        r = request(
            branch_id="b1" if i % 3 else "b2",
            service_type=services[i % len(services)],
            now=NOW + timedelta(seconds=90 * i),
            amount=Decimal(1000 + 500 * i),
            customer_id=f"c{i}" if i % 4 else None,
            propensity={"self_service": round(0.1 + (i % 7) / 10, 2), "mobile": 0.4},
            counter_wait_s=float(200 + 30 * i),
            devices=(atm(branch="b1" if i % 3 else "b2"),),
        )
        lines.append(json.dumps(input_to_record(r)))
    return lines


def test_what_if_is_deterministic_and_side_by_side(default_yaml: str) -> None:
    traffic = parse_traffic(_window())
    active = load_rule_set(default_yaml, version=1)
    proposed = load_rule_set(device_rule_set(), version=2)
    first = what_if(proposed, active, traffic, Assumptions(counters=2))
    second = what_if(proposed, active, parse_traffic(_window()), Assumptions(counters=2))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    a, p = first["active"], first["proposed"]
    assert (a["version"], p["version"], first["window"]["records"]) == (1, 2, 40)
    assert sum(p["decisions_per_rule"].values()) == sum(a["decisions_per_rule"].values()) == 40
    assert p["offers"] == sum(p["offers_per_rule"].values()) > 0
    # expected accepted = sum of self-service propensities of the offered customers
    assert p["expected_accepted"] == pytest.approx(sum(p["expected_accepted_per_rule"].values()))
    assert p["expected_counter_customers"] == pytest.approx(40 - p["expected_accepted"])
    assert first["delta"]["offers"] == p["offers"] - a["offers"]
    assert set(p["per_branch"]) == {"b1", "b2"}


def test_no_active_set_means_everyone_at_the_counter() -> None:
    traffic = parse_traffic(_window())
    report = what_if(load_rule_set(device_rule_set(), version=2), None, traffic, Assumptions(counters=1))
    assert report["active"]["offers"] == 0 and report["active"]["expected_counter_customers"] == 40
    # diverting work away can only shorten the modelled waits
    assert report["proposed"]["expected_wait_mean_s"] < report["active"]["expected_wait_mean_s"]
    assert report["changed_decisions"] == report["proposed"]["offers"]


def test_bad_traffic_line_names_line_and_field() -> None:
    lines = _window()[:2] + ['{"branch_id": "b1", "service_type": "x", "now": "2026-11-25T10:00:00"}']
    with pytest.raises(TrafficInvalid) as caught:
        parse_traffic(lines)
    assert (caught.value.line, caught.value.field) == (3, "now")
