"""Why a device was not offered (issue 17): each protection names its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from counterflow_shared.rules import DecisionInput, DeviceView
from counterflow_shared.rules.protections import ProtectionSettings, devices_not_offered, why_not_offered

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SETTINGS = ProtectionSettings(min_counter_wait_s=0, min_time_saved_s=120, cash_out_horizon_s=1800)


def _device(device_id: str = "d1", **changes: object) -> DeviceView:
    values: dict = {
        "device_id": device_id,
        "branch_id": "b1",
        "kind": "atm",
        "status": "online",
        "service_types": frozenset({"cash_withdrawal"}),
        "cash_available": {"CZK": Decimal("50000")},
        "max_amount": {"CZK": Decimal("20000")},
    }
    values.update(changes)
    return DeviceView(**values)


def _request(*devices: DeviceView, amount: str = "2000", wait: float | None = 900.0, needs: frozenset[str] = frozenset()) -> DecisionInput:
    return DecisionInput(
        branch_id="b1", service_type="cash_withdrawal", now=NOW, amount=Decimal(amount), currency="CZK", customer_id=None, tier=None, propensity={}, needs=needs, counter_wait_s=wait, devices=devices
    )


def test_each_protection_names_its_reason():
    assert why_not_offered(_device(), _request(), SETTINGS) == []
    assert why_not_offered(_device(status="hardware_error"), _request(), SETTINGS) == ["status"]
    assert why_not_offered(_device(service_types=frozenset(), unavailable={"cash_withdrawal": "notes"}), _request(), SETTINGS) == ["notes"]
    assert why_not_offered(_device(service_types=frozenset(), unavailable={"cash_withdrawal": "closed"}), _request(), SETTINGS) == ["closed"]
    assert why_not_offered(_device(service_types=frozenset({"cash_deposit"})), _request(), SETTINGS) == ["service_type"]
    assert why_not_offered(_device(cash_available={"CZK": Decimal("1000")}), _request(), SETTINGS) == ["cash"]
    assert why_not_offered(_device(forecast_cash_out_at=NOW + timedelta(minutes=10)), _request(), SETTINGS) == ["forecast"]
    assert why_not_offered(_device(), _request(amount="25000"), SETTINGS) == ["amount_limit"]
    assert why_not_offered(_device(), _request(needs=frozenset({"accessibility"})), SETTINGS) == ["accessibility"]
    assert why_not_offered(_device(expected_wait_s=800.0, queue_length=4), _request(), SETTINGS) == ["queue"]
    assert why_not_offered(_device(), _request(wait=None), SETTINGS) == ["counter_wait_unknown"]
    assert why_not_offered(_device(branch_id="b2"), _request(), SETTINGS) == ["branch"]
    several = why_not_offered(_device(status="offline", forecast_cash_out_at=NOW, expected_wait_s=900.0), _request(), SETTINGS)
    assert several == ["status", "forecast", "queue"]


def test_every_device_but_the_offered_one_is_listed_and_an_allowed_one_says_rules():
    ok, down, elsewhere = _device("ok"), _device("down", status="offline"), _device("far", branch_id="b2")
    listed = devices_not_offered(_request(ok, down, elsewhere), SETTINGS, offered="ok")
    assert listed == ({"device_id": "down", "kind": "atm", "reasons": ["status"]},)
    assert devices_not_offered(_request(ok, down), SETTINGS, offered=None)[0] == {"device_id": "ok", "kind": "atm", "reasons": ["rules"]}
