"""Pure domain rules: the day-of-week demand model, the cash-out time, the dispense plan
and replenishment statuses (no infrastructure needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from counterflow_selfservice.domain import forecast
from counterflow_selfservice.domain.cash import InsufficientCash, plan_dispense, serves_withdrawals
from counterflow_selfservice.domain.models import CashUnit, ReplenishmentStatus


def _unit(unit_id: str, denomination: str, count: int, *, capacity: int = 100, low: int = 10, full: int = 90) -> CashUnit:
    return CashUnit(unit_id, "CZK", Decimal(denomination), capacity, low, full, count)


def test_weekday_profile_recovers_a_weekly_pattern_under_noise():
    rng = np.random.default_rng(7)
    true = np.array([1.0, 0.9, 0.9, 1.0, 1.6, 1.2, 0.4])  # Monday..Sunday
    days = 20 * 7
    weekdays = np.arange(days) % 7  # day 0 is a Monday
    y = 1000 * true[weekdays] * rng.lognormal(0, 0.15, days)
    index = forecast.weekday_profile(y, last_weekday=int(weekdays[-1]))
    assert np.allclose(index, true / true.mean(), atol=0.08)
    level = forecast.fit_level(y, index, int(weekdays[-1]))
    assert level == pytest.approx(1000 * true.mean(), rel=0.08)


def test_forecast_beats_seasonal_naive_on_noisy_weekly_demand():
    rng = np.random.default_rng(11)
    true = np.array([1.0, 0.9, 0.9, 1.0, 1.6, 1.2, 0.4])
    errors_model, errors_naive = [], []
    for series in range(20):
        y = 500 * true[np.arange(200) % 7] * rng.lognormal(0, 0.3, 200)
        for origin in range(140, 186, 7):
            actual = y[origin : origin + 14]
            errors_model.append(forecast.smape(actual, forecast.forecast_days(y[:origin], (origin - 1) % 7, 14)))
            errors_naive.append(forecast.smape(actual, forecast.seasonal_naive(y[:origin], 14)))
    assert np.mean(errors_model) < np.mean(errors_naive) * 0.8


def test_short_history_gives_a_flat_profile():
    assert list(forecast.weekday_profile(np.array([5.0] * 10), 3)) == [1.0] * 7


def test_smape_is_the_nn5_definition():
    assert forecast.smape(np.array([100.0, 0.0, np.nan]), np.array([50.0, 0.0, 3.0])) == pytest.approx((200 * 50 / 150 + 0) / 2)


def test_cash_out_walks_the_weekday_demand():
    monday_noon = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 in Prague (CET)
    index = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    at = forecast.cash_out_at(now=monday_noon, cash=Decimal("10000"), typical_withdrawal=Decimal("1000"), level=2000.0, weekday_index=index, time_zone="Europe/Prague")
    assert at == monday_noon + timedelta(days=4.5)
    # a Sunday with no demand is skipped over
    index = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    saturday_noon = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    at = forecast.cash_out_at(now=saturday_noon, cash=Decimal("4000"), typical_withdrawal=Decimal("1000"), level=2000.0, weekday_index=index, time_zone="Europe/Prague")
    assert at == saturday_noon + timedelta(days=1.5 + 1)  # half of Saturday, no Sunday, all Monday
    assert forecast.cash_out_at(now=saturday_noon, cash=Decimal("500"), typical_withdrawal=Decimal("1000"), level=1.0, weekday_index=index, time_zone="Europe/Prague") == saturday_noon
    assert forecast.cash_out_at(now=saturday_noon, cash=Decimal("5000"), typical_withdrawal=Decimal("1000"), level=0.0, weekday_index=index, time_zone="Europe/Prague") is None


def test_dispense_plan_takes_large_notes_first_and_refuses_what_it_cannot_pay():
    units = [_unit("A", "1000", 2), _unit("B", "500", 1), _unit("C", "100", 10)]
    assert plan_dispense(units, "CZK", Decimal("3200")) == {"A": 2, "B": 1, "C": 7}
    with pytest.raises(InsufficientCash):
        plan_dispense(units, "CZK", Decimal("4000"))
    with pytest.raises(InsufficientCash):
        plan_dispense(units, "CZK", Decimal("150"))  # no note makes 50


@pytest.mark.parametrize(("count", "status"), [(0, "empty"), (10, "low"), (11, "ok"), (89, "ok"), (90, "full")])
def test_replenishment_status_follows_thresholds(count, status):
    assert _unit("A", "100", count).status == ReplenishmentStatus(status)


def test_withdrawals_need_a_unit_above_low_and_a_typical_amount():
    assert serves_withdrawals([_unit("A", "100", 50)], "CZK", Decimal("1000"))
    assert not serves_withdrawals([_unit("A", "100", 10)], "CZK", Decimal("100"))  # low
    assert not serves_withdrawals([_unit("A", "1000", 11)], "CZK", Decimal("20000"))  # cannot pay


def test_withdrawal_obstacle_says_notes_when_the_cash_is_there_but_the_notes_are_too_large():
    from counterflow_selfservice.domain.cash import withdrawal_obstacle

    only_500s = [_unit("A", "500", 50)]  # 25,000 CZK in 500s
    assert withdrawal_obstacle(only_500s, "CZK", Decimal("100")) == "notes"  # the 100 CZK default typical withdrawal
    assert withdrawal_obstacle(only_500s, "CZK", Decimal("1000")) is None
    assert withdrawal_obstacle([_unit("A", "500", 5)], "CZK", Decimal("1000")) == "cash"  # low unit
    assert withdrawal_obstacle([_unit("A", "500", 11)], "CZK", Decimal("20000")) == "cash"  # 5,500 CZK < 20,000
    assert withdrawal_obstacle(only_500s, "EUR", Decimal("100")) == "cash"  # no unit of the currency
