"""``python -m counterflow_ticketing rules ...``: validate and a deterministic what-if
over a recorded window (files only: no database needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from counterflow_shared.rules import DecisionInput, DeviceView, input_to_record
from counterflow_ticketing.cli import app

REPO = Path(__file__).resolve().parents[3]
DEFAULT = REPO / "deploy/config/rulesets/default.yaml"


def _window(path: Path) -> Path:
    atm = DeviceView(device_id="atm-1", branch_id="b1", kind="atm", status="online", service_types=frozenset({"cash_withdrawal"}), cash_available={"CZK": Decimal("400000")}, expected_wait_s=30.0)
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    lines = []
    for i in range(60):
        r = DecisionInput(
            branch_id="b1",
            service_type=["cash_withdrawal", "transfer", "cash_deposit", "loan_consultation"][i % 4],
            now=start + timedelta(minutes=3 * i),
            amount=Decimal(500 * (i + 1)),
            currency="CZK",
            customer_id=f"c{i}" if i % 5 else None,
            tier=["mass", "premium", "vip", "basic"][i % 4],
            propensity={"self_service": (i % 10) / 10, "mobile": 0.5},
            counter_wait_s=float(30 * i),
            devices=(atm,),
            time_zone="Europe/Prague",
            sla_share=0.9 - i / 100,
        )
        lines.append(json.dumps(input_to_record(r)))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_what_if_command_is_deterministic(tmp_path: Path) -> None:
    traffic = _window(tmp_path / "window.jsonl")
    tickets_only = tmp_path / "tickets.yaml"
    tickets_only.write_text("schema_version: 1\nname: tickets-only\nrules: []\n")
    runner = CliRunner()
    args = ["rules", "what-if", "--traffic", str(traffic), "--proposed", str(DEFAULT), "--active", str(tickets_only), "--counters", "2"]
    first = runner.invoke(app, args)
    second = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    report = json.loads(first.output)
    assert report["active"]["offers"] == 0 and report["proposed"]["offers"] > 0
    assert report["proposed"]["expected_counter_customers"] < report["active"]["expected_counter_customers"] == 60
    assert report["delta"]["offers"] == report["proposed"]["offers"]


def test_validate_names_the_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: bad\nrules:\n  - id: cash\n    when: {counter_wait_s: {min: -5}}\n    then: {type: offer_device}\n")
    result = CliRunner().invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == 2
    assert "rule cash: rules[0].when.counter_wait_s.min" in result.output
    ok = CliRunner().invoke(app, ["rules", "validate", str(DEFAULT)])
    assert ok.exit_code == 0 and "valid" in ok.output
