"""Daily cash demand with calendar effects, censored days and quantiles of cumulative
demand; the cash-out time as the P90 time to empty (``docs/cash-forecast.md``).

Extends the robust weekday model of :mod:`.forecast` (weekday medians, median level):

* **Censored days.** A day when the device was empty, offline or faulted says nothing
  about demand. It is ``NaN`` in the history and left out of every median, instead of
  counting as zero demand (which pulled the forecast down).
* **Calendar effects.** Multiplicative factors for the public holidays of the device's
  country (the ``holidays`` package), the working day before a holiday, the week before
  Christmas, the Easter weekend, payday (the last working day of the month, when most
  monthly salaries are paid in the UK and in Czechia) and the first days of a month.
  Each factor is the median ratio of demand to the weekday model on the days that
  carry it (only that flag) in the history, shrunk towards 1 by ``n / (n + SHRINK)``
  for ``n`` such days: rare days (a holiday seen once a year) move the forecast little
  until they have been seen a few times. The factor for a day with several flags is the
  product.
* **Quantiles.** The ratio of actual to fitted demand over the recent history gives
  the spread; for a horizon of ``h`` days, the ratios of ``h``-day sums (actual over
  fitted) give quantiles of *cumulative* demand directly, so correlated days (a busy
  week) widen the band as they do in reality. The cash-out time is the first instant
  at which the cumulative P90 demand reaches the spare cash: the device runs dry later
  than that nine times in ten, if the quantiles are calibrated (measured in
  ``bench/cash_backtest.py``).

Sources: calendar and holiday effects in ATM cash demand, Simutis, Dilijonas and
Bastina, "Cash demand forecasting for ATM using neural networks and support vector
regression algorithms", 20th EURO Mini Conference, 2008, and the NN5 winners' use of
calendar dummies (Andrawis, Atiya & El-Shishiny, IJF 27(3), 2011); empirical quantiles
of forecast errors, Hyndman & Athanasopoulos, FPP3 §5.5 (bootstrapped residuals).
``SHRINK`` and ``RESIDUAL_DAYS`` were chosen on the NN5 tuning window only
(``bench/cash_backtest.py`` records the sweep).
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np

from counterflow_selfservice.domain import forecast

#: Calendar effects, in the column order of :func:`calendar_flags`.
EFFECTS = ("holiday", "before_holiday", "christmas_week", "easter_weekend", "payday", "month_start")

#: Pseudo-count of the shrinkage of a calendar factor towards 1 (days); tuning window.
SHRINK = 0.5

#: Days of history whose fitted-vs-actual ratios give the quantiles; tuning window.
RESIDUAL_DAYS = 112

#: Days at the start of a month that count as ``month_start``.
MONTH_START_DAYS = 3

#: Days of history a device's model is fitted on: a year and a week, so that every
#: holiday of the calendar has been seen once.
HISTORY_DAYS = 371

#: Quantile levels kept for cumulative demand.
LEVELS = (0.5, 0.9)


@lru_cache(maxsize=64)
def _holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=[year]).keys())


def _is_holiday(d: date, country: str, subdiv: str | None) -> bool:
    return d in _holidays(country, subdiv, d.year)


def _working(d: date, country: str, subdiv: str | None) -> bool:
    return d.weekday() < 5 and not _is_holiday(d, country, subdiv)


def _easter_weekend(d: date, country: str, subdiv: str | None) -> bool:
    # the Saturday and Sunday between Good Friday and Easter Monday (holidays of the calendar)
    if d.weekday() == 5:
        return _is_holiday(d - timedelta(days=1), country, subdiv) and _is_holiday(d + timedelta(days=2), country, subdiv) and d.month in (3, 4)
    if d.weekday() == 6:
        return _is_holiday(d - timedelta(days=2), country, subdiv) and _is_holiday(d + timedelta(days=1), country, subdiv) and d.month in (3, 4)
    return False


def _payday(d: date, country: str, subdiv: str | None) -> bool:
    last = date(d.year, d.month, _cal.monthrange(d.year, d.month)[1])
    while not _working(last, country, subdiv):
        last -= timedelta(days=1)
    return d == last


def calendar_flags(days: Sequence[date], country: str, subdiv: str | None = None) -> np.ndarray:
    """Boolean matrix ``[len(days), len(EFFECTS)]`` of the calendar effects of each day.

    Raises:
        NotImplementedError: ``country`` is unknown to the ``holidays`` package.
    """
    out = np.zeros((len(days), len(EFFECTS)), dtype=bool)
    for i, d in enumerate(days):
        hol = _is_holiday(d, country, subdiv)
        nxt = d + timedelta(days=1)
        out[i] = (
            hol,
            not hol and _is_holiday(nxt, country, subdiv),
            d.month == 12 and 18 <= d.day <= 24,
            _easter_weekend(d, country, subdiv),
            _payday(d, country, subdiv),
            d.day <= MONTH_START_DAYS,
        )
    return out


@dataclass(frozen=True)
class DemandFit:
    """A fitted demand model of one device.

    Attributes:
        level: deseasonalised daily demand (major units per day).
        weekday_index: multiplicative index per weekday, Monday = 0 (mean 1).
        factors: multiplicative factor per calendar effect (:data:`EFFECTS` order).
        daily_ratio: ``{level: ratio}`` quantiles of actual / fitted daily demand.
        cumulative_ratio: ``{level: [ratio for h = 1..len]}`` quantiles of actual /
            fitted ``h``-day sums.
    """

    level: float
    weekday_index: list[float]
    factors: list[float]
    daily_ratio: dict[float, float] = field(default_factory=dict)
    cumulative_ratio: dict[float, list[float]] = field(default_factory=dict)

    def daily(self, first: date, horizon: int, flags: np.ndarray) -> np.ndarray:
        """Median-type point forecast of the ``horizon`` days from ``first`` with their
        calendar ``flags`` (:func:`calendar_flags` of those days)."""
        wd = np.array([(first + timedelta(days=k)).weekday() for k in range(horizon)])
        mult = np.prod(np.where(flags, np.array(self.factors)[None, :], 1.0), axis=1)
        return np.clip(self.level * np.array(self.weekday_index)[wd] * mult, 0.0, None)

    def cumulative_quantile(self, daily: np.ndarray, q: float) -> np.ndarray:
        """Quantile ``q`` of cumulative demand after 1..len(daily) days (same units)."""
        ratios = self.cumulative_ratio.get(q)
        cum = np.cumsum(daily)
        if not ratios:
            return cum
        r = np.array([ratios[min(h, len(ratios) - 1)] for h in range(len(daily))])
        return cum * r


def fit(history: np.ndarray, days: Sequence[date], flags: np.ndarray, *, horizon: int = 14, shrink: float = SHRINK, residual_days: int = RESIDUAL_DAYS) -> DemandFit:
    """Fit on daily ``history`` (NaN = censored day) of the dates ``days`` with their
    calendar ``flags``; quantiles of cumulative demand up to ``horizon`` days.

    Returns a flat zero model when no uncensored day has demand.
    """
    y = np.asarray(history, dtype=float)
    known = ~np.isnan(y)
    if not known.any():
        return DemandFit(0.0, [1.0] * 7, [1.0] * len(EFFECTS))
    wd = np.array([d.weekday() for d in days])
    plain = known & ~flags.any(axis=1)
    index = _weekday_index(y, wd, plain if plain.sum() >= forecast.MIN_PROFILE_DAYS else known)
    base_level = _level(y, wd, index, plain if plain[-forecast.LEVEL_DAYS :].any() else known)
    base = base_level * index[wd]
    factors = []
    for e in range(len(EFFECTS)):
        only = known & flags[:, e] & (flags.sum(axis=1) == 1) & (base > 0)
        n = int(only.sum())
        if n == 0:
            factors.append(1.0)
            continue
        m = float(np.median(y[only] / base[only]))
        factors.append(1.0 + (m - 1.0) * n / (n + shrink))
    mult = np.prod(np.where(flags, np.array(factors)[None, :], 1.0), axis=1)
    level = _level(y / np.where(mult > 0, mult, 1.0), wd, index, known)
    fitted = level * index[wd] * mult
    result = DemandFit(level, [float(x) for x in index], factors)
    recent = slice(max(0, len(y) - residual_days), len(y))
    yr, fr = y[recent], fitted[recent]
    ok = ~np.isnan(yr) & (fr > 0)
    if ok.sum() < 14:
        return result
    daily_ratio = {q: float(np.quantile(yr[ok] / fr[ok], q)) for q in LEVELS}
    cumulative = {}
    for q in LEVELS:
        per_h = []
        for h in range(1, horizon + 1):
            sums_y = np.convolve(np.where(ok, yr, 0.0), np.ones(h), "valid")
            sums_f = np.convolve(np.where(ok, fr, 0.0), np.ones(h), "valid")
            full = np.convolve(ok.astype(float), np.ones(h), "valid") == h
            per_h.append(float(np.quantile(sums_y[full] / sums_f[full], q)) if full.sum() >= 5 else daily_ratio[q])
        cumulative[q] = per_h
    return DemandFit(level, result.weekday_index, factors, daily_ratio, cumulative)


def _weekday_index(y: np.ndarray, wd: np.ndarray, use: np.ndarray) -> np.ndarray:
    window = slice(max(0, len(y) - 7 * forecast.PROFILE_WEEKS), len(y))
    med = np.ones(7)
    for d in range(7):
        vals = y[window][(wd[window] == d) & use[window]]
        med[d] = np.median(vals) if vals.size else np.nan
    if np.all(np.isnan(med)) or np.nanmean(med) <= 0:
        return np.ones(7)
    med = np.where(np.isnan(med), np.nanmean(med), med)
    return med / med.mean()


def _level(y: np.ndarray, wd: np.ndarray, index: np.ndarray, use: np.ndarray) -> float:
    window = slice(max(0, len(y) - forecast.LEVEL_DAYS), len(y))
    idx = index[wd[window]]
    ok = use[window] & (idx > 0) & ~np.isnan(y[window])
    if not ok.any():
        return 0.0
    return float(np.median(y[window][ok] / idx[ok]))


def cash_out_at(*, now: datetime, spare: float, daily_p: np.ndarray, first_day: date, time_zone: str) -> datetime | None:
    """First instant at which cumulative demand ``daily_p`` (a quantile of cumulative
    demand at the end of each local day from ``first_day``, which contains ``now``)
    reaches ``spare`` cash, demand spread evenly over each day; ``now`` when ``spare``
    is negative, ``None`` beyond the horizon.

    ``daily_p[k]`` is cumulative demand from the start of ``first_day`` to the end of
    day ``k``; the part of ``first_day`` already past is taken off.
    """
    if spare < 0:
        return now
    tz = ZoneInfo(time_zone)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=tz)
    elapsed = (now.astimezone(tz) - start).total_seconds() / 86400.0
    prev = 0.0
    offset = float(daily_p[0]) * min(max(elapsed, 0.0), 1.0) if len(daily_p) else 0.0
    for k, cum in enumerate(daily_p):
        need = spare + offset
        if cum >= need and cum > prev:
            frac = (need - prev) / (cum - prev)
            at = start + timedelta(days=k + frac)
            return max(at, now.astimezone(tz)).astimezone(now.tzinfo)
        prev = float(cum)
    return None
