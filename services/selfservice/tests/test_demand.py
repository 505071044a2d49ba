"""The cash demand model (domain/demand.py) on small synthetic series with known truth:
calendar flags, calendar factors, censored days, P90 calibration, the P90 cash-out time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from counterflow_selfservice.domain import demand

PROFILE = np.array([1.0, 0.9, 0.9, 1.0, 1.4, 1.1, 0.7])  # Monday .. Sunday


def _series(start: date, n: int, *, holiday_factor: float = 1.0, noise: float = 0.0, seed: int = 1) -> tuple[list[date], np.ndarray, np.ndarray]:
    days = [start + timedelta(days=i) for i in range(n)]
    flags = demand.calendar_flags(days, "GB", "ENG")
    rng = np.random.default_rng(seed)
    y = 100.0 * PROFILE[[d.weekday() for d in days]] / PROFILE.mean()
    y = y * np.where(flags[:, 0], holiday_factor, 1.0)
    if noise:
        y = y * rng.lognormal(0.0, noise, n)
    return days, y, flags


def test_calendar_flags_of_easter_1997_in_england() -> None:
    days = [date(1997, 3, 27) + timedelta(days=i) for i in range(6)]  # Thu 27 .. Tue 1 April
    f = demand.calendar_flags(days, "GB", "ENG")
    col = {e: i for i, e in enumerate(demand.EFFECTS)}
    assert [bool(x) for x in f[:, col["holiday"]]] == [False, True, False, False, True, False]  # Good Friday, Easter Monday
    assert bool(f[0, col["before_holiday"]]) and bool(f[3, col["before_holiday"]])
    assert [bool(x) for x in f[:, col["easter_weekend"]]] == [False, False, True, True, False, False]
    # the last working day of March 1997 is the Thursday before Good Friday
    assert [bool(x) for x in f[:, col["payday"]]] == [True, False, False, False, False, False]
    assert bool(f[5, col["month_start"]])
    # the day before that payday (Wednesday 26 March) is "before_payday"
    before = demand.calendar_flags([date(1997, 3, 26)], "GB", "ENG")
    assert before[0, col["before_payday"]] and not f[0, col["before_payday"]]
    assert demand.calendar_flags([date(1997, 12, 20)], "GB", "ENG")[0, col["christmas_week"]]


def test_holiday_factor_is_learned_and_forecast() -> None:
    days, y, flags = _series(date(1996, 3, 18), 500, holiday_factor=0.3)
    fit = demand.fit(y, days, flags)
    assert fit.factors[0] == pytest.approx(0.3, abs=0.15)  # shrunk a little towards 1
    assert fit.level == pytest.approx(100.0, rel=0.02)
    christmas = date(1997, 12, 25)
    ahead = [christmas + timedelta(days=i) for i in range(3)]
    f = fit.daily(christmas, 3, demand.calendar_flags(ahead, "GB", "ENG"))
    plain = 100.0 * PROFILE[[d.weekday() for d in ahead]] / PROFILE.mean()
    assert f[0] < 0.5 * plain[0] and f[1] < 0.5 * plain[1]  # Christmas Day and Boxing Day
    assert f[2] == pytest.approx(plain[2], rel=0.05)


def test_censored_days_do_not_pull_the_forecast_down() -> None:
    days, y, flags = _series(date(1997, 1, 6), 120)
    outage = y.copy()
    outage[-40:-5] = np.nan  # five weeks empty or offline: most of the level window
    as_zero = np.nan_to_num(outage, nan=0.0)
    censored = demand.fit(outage, days, flags)
    zeros = demand.fit(as_zero, days, flags)
    assert censored.level == pytest.approx(100.0, rel=0.03)
    assert zeros.level < 0.8 * censored.level


def test_p90_of_daily_and_cumulative_demand_is_calibrated_on_new_days() -> None:
    days, y, flags = _series(date(1996, 6, 3), 600, noise=0.3, seed=3)
    covered_daily, covered_cum = [], []
    for origin in range(300, 586, 7):
        fit = demand.fit(y[:origin], days[:origin], flags[:origin], future_flags=flags[origin : origin + 14])
        point = fit.daily(days[origin], 14, flags[origin : origin + 14])
        actual = y[origin : origin + 14]
        covered_daily.extend(actual <= point * fit.daily_ratio[0.9])
        covered_cum.extend(np.cumsum(actual) <= fit.cumulative_quantile(point, 0.9))
    assert 0.85 <= np.mean(covered_daily) <= 0.95
    assert 0.85 <= np.mean(covered_cum) <= 0.97


def test_year_ago_change_and_last_week_enter_the_path() -> None:
    # demand doubles every year from mid-November for six weeks (a seasonal peak)
    days, y, flags = _series(date(1996, 1, 1), 700)
    peak = np.array([(d.month == 11 and d.day >= 15) or d.month == 12 for d in days])
    y = np.where(peak, 2 * y, y)
    origin = days.index(date(1997, 11, 17))
    fit = demand.fit(y[:origin], days[:origin], flags[:origin], future_flags=flags[origin : origin + 14])
    path = fit.daily(days[origin], 14, flags[origin : origin + 14])
    plain = fit.level * np.array(fit.weekday_index)[[d.weekday() for d in days[origin : origin + 14]]]
    # the year-ago peak lifts the forecast, damped by YEARLY_WEIGHT
    assert np.mean(path / plain) == pytest.approx(1 + demand.YEARLY_WEIGHT * (1 - demand.NAIVE_WEIGHT), rel=0.1)
    assert fit.path_start == days[origin] and len(fit.path) == 14
    # days past the path fall back to level x index x factors
    later = days[origin] + timedelta(days=20)
    assert fit.daily(later, 1, demand.calendar_flags([later], "GB", "ENG"))[0] == pytest.approx(fit.level * fit.weekday_index[later.weekday()] * np.prod(np.where(demand.calendar_flags([later], "GB", "ENG")[0], fit.factors, 1.0)))


def test_p90_cash_out_comes_before_the_median_one() -> None:
    now = datetime(1997, 6, 2, 8, 0, tzinfo=UTC)
    daily = np.full(20, 100.0)
    median_cum = np.cumsum(daily)
    p90_cum = median_cum * 1.3
    at_median = demand.cash_out_at(now=now, spare=500.0, daily_p=median_cum, first_day=now.date(), time_zone="UTC")
    at_p90 = demand.cash_out_at(now=now, spare=500.0, daily_p=p90_cum, first_day=now.date(), time_zone="UTC")
    assert at_median is not None and at_p90 is not None and now < at_p90 < at_median
    # 500 of spare cash at 100/day, a third of today gone: about 5 days and 8 hours from midnight
    assert at_median == pytest.approx(datetime(1997, 6, 7, 8, 0, tzinfo=UTC), abs=timedelta(minutes=1))
    assert demand.cash_out_at(now=now, spare=-1.0, daily_p=median_cum, first_day=now.date(), time_zone="UTC") == now
    assert demand.cash_out_at(now=now, spare=1e6, daily_p=median_cum, first_day=now.date(), time_zone="UTC") is None


def test_a_few_days_of_history_give_a_flat_profile_and_no_quantiles() -> None:
    days, y, flags = _series(date(1997, 6, 2), 6)
    fit = demand.fit(y, days, flags)
    assert fit.weekday_index == [1.0] * 7
    assert fit.cumulative_ratio == {} and len(fit.path) == 14
