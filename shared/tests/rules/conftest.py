"""Builders for rules-engine tests: a branch with devices, a request, small rule sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from counterflow_shared.rules import DecisionInput, DeviceView

REPO = Path(__file__).resolve().parents[3]
DEFAULT_YAML = REPO / "deploy/config/rulesets/default.yaml"
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)  # a Wednesday


def atm(device_id: str = "atm-1", *, status: str = "online", cash: str = "500000", queue: int = 0, wait_s: float = 30.0, cash_out_in_s: float | None = None, kind: str = "atm", branch: str = "b1", accessible: bool = True, services: tuple[str, ...] = ("cash_withdrawal", "statement")) -> DeviceView:
    """A cash device of branch ``branch``."""
    return DeviceView(
        device_id=device_id,
        branch_id=branch,
        kind=kind,
        status=status,
        service_types=frozenset(services),
        cash_available={"CZK": Decimal(cash)},
        max_amount={"CZK": Decimal("50000")},
        queue_length=queue,
        expected_wait_s=wait_s,
        forecast_cash_out_at=NOW + timedelta(seconds=cash_out_in_s) if cash_out_in_s is not None else None,
        accessible=accessible,
    )


def request(**overrides: Any) -> DecisionInput:
    """A cash withdrawal of 2,000 CZK by a known mass customer with a 15-minute counter wait."""
    base: dict[str, Any] = dict(
        branch_id="b1",
        service_type="cash_withdrawal",
        now=NOW,
        amount=Decimal("2000"),
        currency="CZK",
        customer_id="c1",
        tier="mass",
        propensity={"self_service": 0.6, "mobile": 0.5, "appointment": 0.2},
        counter_wait_s=900.0,
        devices=(atm(),),
        time_zone="Europe/Prague",
        sla_share=0.9,
    )
    base.update(overrides)
    return DecisionInput(**base)


def device_rule_set(**settings: Any) -> dict[str, Any]:
    """One rule: any cash withdrawal goes to a device."""
    return {
        "schema_version": 1,
        "name": "devices",
        "settings": {"min_counter_wait_s": 300, "min_time_saved_s": 60, **settings},
        "rules": [{"id": "to-device", "then": {"type": "offer_device"}}],
    }


@pytest.fixture
def default_yaml() -> str:
    """The default rule set of deploy/config."""
    return DEFAULT_YAML.read_text()
