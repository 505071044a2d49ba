"""Cash-out forecast: daily net cash demand with day-of-week seasonality, then the time
at which the remaining cash can no longer pay a typical withdrawal.

Method (documented with its backtest in ``docs/cash-forecast.md`` at the repository root): a robust
multiplicative day-of-week profile, the classical multiplicative decomposition of
Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed., 2021, §3.4)
with medians instead of means, as in the day-of-week seasonal models that did well on
the NN5 competition data (Andrawis, Atiya & El-Shishiny, "Forecast combinations of
computational intelligence and linear models for the NN5 time series forecasting
competition", *International Journal of Forecasting* 27(3), 2011, 672-688):

* weekday index ``s[d]`` = median of the last ``PROFILE_WEEKS`` values on weekday ``d``,
  divided by the mean of the seven medians;
* level ``L`` = median of ``y[t] / s[weekday(t)]`` over the last ``LEVEL_DAYS`` days;
* forecast for a day ``t`` ahead = ``L * s[weekday(t)]``.

``PROFILE_WEEKS`` = 16 and ``LEVEL_DAYS`` = 56 were chosen on the NN5 backtest
(``bench/selfservice.py``), where the model has a lower sMAPE than seasonal-naive.
Amounts inside the model are floats (a statistical estimate); cash itself stays Decimal
and only the resulting time leaves this module.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

PROFILE_WEEKS = 16
LEVEL_DAYS = 56
#: Below two weeks of history the weekday profile is not estimated (flat profile).
MIN_PROFILE_DAYS = 14
#: A cash-out further away than this is reported as "none expected" (days).
HORIZON_DAYS = 60


def weekday_profile(history: np.ndarray, last_weekday: int, *, weeks: int = PROFILE_WEEKS) -> np.ndarray:
    """Multiplicative weekday index (length 7, Monday = 0, mean 1) from daily ``history``.

    Args:
        history: daily demand, oldest first, no gaps (missing days filled by the caller).
        last_weekday: weekday (Monday = 0) of ``history[-1]``.

    Returns:
        ones when there are fewer than :data:`MIN_PROFILE_DAYS` days or no demand at all.
    """
    if len(history) < MIN_PROFILE_DAYS:
        return np.ones(7)
    window = history[-7 * weeks :]
    n = len(window)
    medians = np.empty(7)
    for offset in range(7):
        # window[n-1-offset] falls on weekday (last_weekday - offset) mod 7
        medians[(last_weekday - offset) % 7] = np.median(window[n - 1 - offset :: -7])
    mean = medians.mean()
    if mean <= 0:
        return np.ones(7)
    return medians / mean


def fit_level(history: np.ndarray, index: np.ndarray, last_weekday: int, *, days: int = LEVEL_DAYS) -> float:
    """Deseasonalised daily level: median of ``y / s[weekday]`` over the last ``days``
    days (weekdays with a zero index are left out). Units: those of ``history``."""
    recent = history[-days:]
    n = len(recent)
    if n == 0:
        return 0.0
    weekdays = (last_weekday - np.arange(n - 1, -1, -1)) % 7
    idx = index[weekdays]
    ok = idx > 0
    if not ok.any():
        return 0.0
    return float(np.median(recent[ok] / idx[ok]))


def forecast_days(history: np.ndarray, last_weekday: int, horizon: int) -> np.ndarray:
    """Forecast the ``horizon`` days after ``history`` (length ``horizon``, clipped at 0)."""
    index = weekday_profile(history, last_weekday)
    level = fit_level(history, index, last_weekday)
    weekdays = (last_weekday + np.arange(1, horizon + 1)) % 7
    return np.clip(level * index[weekdays], 0.0, None)


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """Seasonal-naive benchmark: each day repeats the same weekday of the last week
    (Hyndman & Athanasopoulos, FPP3 §5.2)."""
    last_week = history[-7:]
    return np.array([last_week[k % 7] for k in range(horizon)], dtype=float)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, the NN5 competition measure (Crone, 2008):
    ``mean(200 |F - A| / (|A| + |F|))`` over days with a known actual; a day with
    ``A = F = 0`` counts as 0. Returns NaN when no actual is known."""
    known = ~np.isnan(actual)
    a, f = actual[known], forecast[known]
    if len(a) == 0:
        return float("nan")
    denom = np.abs(a) + np.abs(f)
    terms = np.where(denom == 0, 0.0, 200.0 * np.abs(f - a) / np.where(denom == 0, 1.0, denom))
    return float(terms.mean())


def fill_daily(days: dict[date, float], first: date, last: date) -> np.ndarray:
    """Daily series from ``first`` to ``last`` inclusive; days without transactions are 0."""
    n = (last - first).days + 1
    return np.array([days.get(first + timedelta(days=i), 0.0) for i in range(max(n, 0))], dtype=float)


def cash_out_at(
    *,
    now: datetime,
    cash: Decimal,
    typical_withdrawal: Decimal,
    level: float,
    weekday_index: list[float],
    time_zone: str,
) -> datetime | None:
    """When the device is expected to be unable to pay a typical withdrawal.

    Demand is spread evenly over each local day (a simplification: ATM demand is
    concentrated in the day-time, so the time of day is approximate; the day is what
    replenishment planning needs).

    Args:
        now: the current time (aware).
        cash: dispensable cash now (major units).
        typical_withdrawal: the amount that must remain payable (major units).
        level / weekday_index: the fitted demand model (major units per day).
        time_zone: IANA zone of the branch (local days).

    Returns:
        ``now`` when the cash already cannot pay a typical withdrawal; ``None`` when
        demand is zero or the cash-out lies beyond :data:`HORIZON_DAYS`.
    """
    spare = float(cash - typical_withdrawal)
    if spare < 0:
        return now
    if level <= 0:
        return None
    tz = ZoneInfo(time_zone)
    local = now.astimezone(tz)
    cursor = local
    for _ in range(HORIZON_DAYS + 1):
        day_start = datetime(cursor.year, cursor.month, cursor.day, tzinfo=tz)
        next_day = day_start + timedelta(days=1)
        day_seconds = (next_day - day_start).total_seconds()
        rate = level * weekday_index[cursor.weekday()] / day_seconds  # major units per second
        left = (next_day - cursor).total_seconds()
        if rate > 0 and rate * left >= spare:
            return (cursor + timedelta(seconds=spare / rate)).astimezone(now.tzinfo)
        spare -= rate * left
        cursor = next_day
        if (cursor - local).days > HORIZON_DAYS:
            break
    return None


def median_amount(amounts: list[Decimal], default: Decimal) -> Decimal:
    """Median of ``amounts`` (the lower middle for an even count, so it is an amount
    that really occurred), or ``default`` when empty."""
    if not amounts:
        return default
    ordered = sorted(amounts)
    return ordered[(len(ordered) - 1) // 2]


def is_finite(value: float) -> bool:
    """Whether ``value`` is a finite float (guards model parameters before storing)."""
    return math.isfinite(value)
