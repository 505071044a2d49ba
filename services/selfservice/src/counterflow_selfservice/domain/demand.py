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
  A seventh flag, the day *before* payday, is there because on the NN5 ATM data the
  recorded day runs one day ahead of the withdrawals (measured: the day before a bank
  holiday is at 0.65-0.71 of the weekday model, the holiday itself at 1.04; the day
  before payday at 1.08, payday at 1.00); with a device's own ledger it shrinks to 1.
* **Point path.** Level (median of the deseasonalised last ``LEVEL_DAYS`` days) x
  weekday index (median ratio to the centred week over ``PROFILE_WEEKS``) x calendar
  factors; scaled by ``YEARLY_WEIGHT`` of the change the same fortnight showed a year
  (52 weeks) earlier against the four weeks before it (damped yearly seasonality:
  Christmas, summer); then combined with last week's values (seasonal-naive) at weight
  ``NAIVE_WEIGHT`` (forecast combination, Bates & Granger 1969; on NN5, Andrawis,
  Atiya & El-Shishiny 2011). The 14-day path is stored with the model.
* **Quantiles.** Rolling-origin calibration: at every daily origin of the last
  ``RESIDUAL_DAYS`` days the same point forecast is made from the history before it,
  and the ratios of actual to forecast (daily, and of ``h``-day sums for cumulative
  demand) are out of sample. Their conformal quantile (``ceil((n+1)q)``-th smallest;
  Vovk, Gammerman & Shafer 2005) scales the point forecast; correlated days (a busy
  week) widen the cumulative band as they do in reality. The cash-out time is the
  first instant at which the cumulative P90 demand reaches the spare cash: the device
  runs dry later than that nine times in ten when calibrated (measured in
  ``bench/cash_backtest.py``: 89 % of held-out days).

Sources: calendar and holiday effects in ATM cash demand, Simutis, Dilijonas and
Bastina, "Cash demand forecasting for ATM using neural networks and support vector
regression algorithms", 20th EURO Mini Conference, 2008, and the NN5 winners' use of
calendar dummies (Andrawis, Atiya & El-Shishiny, IJF 27(3), 2011); Hyndman &
Athanasopoulos, FPP3 §3.4 (ratio decomposition), §5.5 (prediction intervals from
errors); conformal prediction: Angelopoulos & Bates, "A gentle introduction to
conformal prediction", 2021. The constants were chosen on the NN5 tuning window only
(``bench/cash_backtest.py`` re-measures the sweep on every run).
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
EFFECTS = ("holiday", "before_holiday", "christmas_week", "easter_weekend", "payday", "month_start", "before_payday")

#: Pseudo-count of the shrinkage of a calendar factor towards 1 (days); tuning window.
SHRINK = 0.5

#: Days of history whose rolling origins give the out-of-sample ratios (quantiles).
RESIDUAL_DAYS = 112

#: Weeks of history of the weekday index (a year: the NN5 tuning window preferred 52
#: to 16; ``bench/cash_backtest.py``).
PROFILE_WEEKS = 52

#: Days of the level window (median of deseasonalised days); 28 beat 21, 56 and 112
#: on the NN5 tuning window.
LEVEL_DAYS = 28

#: Days in the year-ago comparison (52 weeks, so weekdays line up).
YEAR_DAYS = 364

#: Days before the year-ago horizon that the year-ago change is measured against.
YEARLY_BASE_DAYS = 28

#: Weight of the year-ago change (0 = ignore last year, 1 = repeat its change); 0.5 on
#: the NN5 tuning window (0.3, 0.5, 0.7, 1.0 compared), a damped seasonal ratio in
#: the sense of Hyndman & Athanasopoulos, FPP3 §8.3 (damping) and §3.4 (ratios).
YEARLY_WEIGHT = 0.5

#: Weight of last week's values (seasonal-naive) in the combined point forecast;
#: 0.15 on the NN5 tuning window. Forecast combination: Bates & Granger 1969; on NN5,
#: Andrawis, Atiya & El-Shishiny 2011.
NAIVE_WEIGHT = 0.15

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
            _payday(nxt, country, subdiv) and not _payday(d, country, subdiv),
        )
    return out


@dataclass(frozen=True)
class DemandFit:
    """A fitted demand model of one device.

    Attributes:
        level: deseasonalised daily demand (major units per day).
        weekday_index: multiplicative index per weekday, Monday = 0 (mean 1).
        factors: multiplicative factor per calendar effect (:data:`EFFECTS` order).
        daily_ratio: ``{level: ratio}`` quantiles of actual / forecast daily demand,
            measured out of sample on rolling origins (horizons 1-``horizon``).
        cumulative_ratio: ``{level: [ratio for h = 1..len]}`` quantiles of actual /
            forecast ``h``-day sums, out of sample on rolling origins.
        path_start: first day of :attr:`path` (the day after the history), or ``None``.
        path: point forecast of the days from ``path_start`` (major units per day),
            with the year-ago and last-week terms that ``level x index x factors``
            alone does not carry; days beyond it use ``level x index x factors``.
    """

    level: float
    weekday_index: list[float]
    factors: list[float]
    daily_ratio: dict[float, float] = field(default_factory=dict)
    cumulative_ratio: dict[float, list[float]] = field(default_factory=dict)
    path_start: date | None = None
    path: list[float] = field(default_factory=list)

    def daily(self, first: date, horizon: int, flags: np.ndarray) -> np.ndarray:
        """Point forecast (about the median) of the ``horizon`` days from ``first``
        with their calendar ``flags`` (:func:`calendar_flags` of those days), shape
        ``(horizon,)``, major units per day, never negative."""
        wd = np.array([(first + timedelta(days=k)).weekday() for k in range(horizon)])
        factors = np.array(self.factors) if len(self.factors) == flags.shape[1] else np.ones(flags.shape[1])
        mult = np.prod(np.where(flags, factors[None, :], 1.0), axis=1)
        out = np.clip(self.level * np.array(self.weekday_index)[wd] * mult, 0.0, None)
        if self.path_start is not None and self.path:
            for k in range(horizon):
                i = (first - self.path_start).days + k
                if 0 <= i < len(self.path):
                    out[k] = max(self.path[i], 0.0)
        return out

    def cumulative_quantile(self, daily: np.ndarray, q: float) -> np.ndarray:
        """Quantile ``q`` of cumulative demand after 1..len(daily) days (same units)."""
        ratios = self.cumulative_ratio.get(q)
        cum = np.cumsum(daily)
        if not ratios:
            return cum
        r = np.array([ratios[min(h, len(ratios) - 1)] for h in range(len(daily))])
        return cum * r


def fit(history: np.ndarray, days: Sequence[date], flags: np.ndarray, *, future_flags: np.ndarray | None = None, horizon: int = 14, shrink: float = SHRINK, residual_days: int = RESIDUAL_DAYS) -> DemandFit:
    """Fit on daily ``history`` (NaN = censored day) of the consecutive dates ``days``
    with their calendar ``flags`` (:func:`calendar_flags`, one row per day); the point
    path and the quantiles of cumulative demand cover ``horizon`` days after the last,
    whose calendar flags are ``future_flags`` (shape ``(horizon, len(EFFECTS))``;
    ``None`` = no calendar effect on those days).

    Steps (module docstring): weekday index, calendar factors, level, the point path of
    :func:`_point` from the end of the history, then the out-of-sample ratios of actual
    to forecast at every daily origin of the last ``residual_days`` days (rolling-origin
    calibration, the split-conformal idea of Vovk et al. 2005 applied to ratios).

    Returns a flat zero model when no uncensored day has demand.
    """
    y = np.asarray(history, dtype=float)
    known = ~np.isnan(y)
    if not known.any():
        return DemandFit(0.0, [1.0] * 7, [1.0] * len(EFFECTS))
    wd = np.array([d.weekday() for d in days])
    plain = known & ~flags.any(axis=1)
    index = _weekday_index(y, wd, plain if plain.sum() >= forecast.MIN_PROFILE_DAYS else known)
    base_level = _level(y, wd, index, plain if plain[-LEVEL_DAYS:].any() else known, LEVEL_DAYS)
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
    fac = np.array(factors)
    mult = np.prod(np.where(flags, fac[None, :], 1.0), axis=1)
    deseason = y / np.where(mult > 0, mult, 1.0)
    n = len(y)
    level = _level(deseason, wd, index, known, LEVEL_DAYS)
    future_days = [days[-1] + timedelta(days=k + 1) for k in range(horizon)]
    future_mult = np.ones(horizon) if future_flags is None else np.prod(np.where(future_flags[:horizon], fac[None, :], 1.0), axis=1)
    future_wd = np.array([d.weekday() for d in future_days])
    z = np.where(index[wd] > 0, deseason / np.where(index[wd] > 0, index[wd], 1.0), np.nan)
    path = _points(y, z, index, np.array([n]), future_wd[None, :], future_mult[None, :])[0]
    result = DemandFit(level, [float(x) for x in index], factors, path_start=future_days[0], path=[float(x) for x in path])
    # rolling-origin calibration: the same forecast made at each daily origin t of the
    # recent past, scored on the days after t that the history holds
    origins = np.arange(max(LEVEL_DAYS, n - residual_days), n - 1)
    if origins.size == 0:
        return result
    ahead = origins[:, None] + np.arange(horizon)[None, :]
    inside = ahead < n
    at = np.where(inside, ahead, n - 1)
    f = _points(y, z, index, origins, wd[at], mult[at])
    a = np.where(inside, y[at], np.nan)
    ok = np.isfinite(a) & (f > 0)
    if ok.sum() < 14:
        return result
    daily_ratio = {q: _conformal_quantile(a[ok] / f[ok], q) for q in LEVELS}
    full = np.cumsum(~ok, axis=1) == 0
    cum = np.cumsum(np.where(ok, a, 0.0), axis=1) / np.where(np.cumsum(f, axis=1) > 0, np.cumsum(f, axis=1), 1.0)
    cumulative = {q: [_conformal_quantile(cum[full[:, h], h], q) if full[:, h].sum() >= 5 else daily_ratio[q] for h in range(horizon)] for q in LEVELS}
    return DemandFit(level, result.weekday_index, factors, daily_ratio, cumulative, result.path_start, result.path)


def _conformal_quantile(ratios: Sequence[float], q: float) -> float:
    """Quantile ``q`` with the split-conformal finite-sample correction: the
    ``ceil((n + 1) q)``-th smallest of ``n`` ratios (Vovk, Gammerman & Shafer 2005;
    Angelopoulos & Bates 2021, eq. 1)."""
    r = np.sort(np.asarray(ratios, dtype=float))
    k = min(len(r), int(np.ceil((len(r) + 1) * q))) - 1
    return float(r[max(k, 0)])


def _points(y: np.ndarray, z: np.ndarray, index: np.ndarray, origins: np.ndarray, wd_ahead: np.ndarray, mult_ahead: np.ndarray) -> np.ndarray:
    """Point forecasts made at each of ``origins`` (shape ``(k,)``) from ``y[:t]`` for
    the next ``horizon`` days with weekdays ``wd_ahead`` and calendar products
    ``mult_ahead`` (both ``(k, horizon)``); result ``(k, horizon)``, never negative.

    Level (median of the deseasonalised ``z`` over the last :data:`LEVEL_DAYS` days)
    x weekday index x calendar; scaled by :data:`YEARLY_WEIGHT` of the year-ago change
    (mean of the same ``horizon`` days :data:`YEAR_DAYS` earlier over the
    :data:`YEARLY_BASE_DAYS` before them); then combined with last week's values
    (seasonal-naive, weight :data:`NAIVE_WEIGHT`) when all seven are known.
    """
    horizon = wd_ahead.shape[1]
    zp = np.concatenate([np.full(LEVEL_DAYS, np.nan), z])
    windows = np.lib.stride_tricks.sliding_window_view(zp, LEVEL_DAYS)[origins]  # z[t-L:t]
    has = np.isfinite(windows).any(axis=1)
    level = np.zeros(len(origins))
    if has.any():
        level[has] = np.nanmedian(windows[has], axis=1)
    f = level[:, None] * index[wd_ahead] * mult_ahead
    known = np.isfinite(y)
    cs = np.concatenate([[0.0], np.cumsum(np.where(known, y, 0.0))])
    cn = np.concatenate([[0], np.cumsum(known)])
    a0 = origins - YEAR_DAYS
    b0 = a0 - YEARLY_BASE_DAYS
    a1 = np.clip(a0 + horizon, 0, len(y))
    ok = b0 >= 0
    b0c, a0c = np.clip(b0, 0, len(y)), np.clip(a0, 0, len(y))
    n_ahead, n_before = cn[a1] - cn[a0c], cn[a0c] - cn[b0c]
    s_ahead, s_before = cs[a1] - cs[a0c], cs[a0c] - cs[b0c]
    ok &= (n_ahead >= max(1, horizon // 2)) & (n_before >= YEARLY_BASE_DAYS // 2) & (s_before > 0)
    ratio = np.ones(len(origins))
    ratio[ok] = (s_ahead[ok] / n_ahead[ok]) / (s_before[ok] / n_before[ok])
    f = f * (1.0 + (ratio - 1.0) * YEARLY_WEIGHT)[:, None]
    w0 = origins - 7
    full_week = (w0 >= 0) & (cn[origins] - cn[np.clip(w0, 0, len(y))] == 7)
    if full_week.any():
        last = y[np.clip(w0[full_week, None] + (np.arange(horizon) % 7)[None, :], 0, len(y) - 1)]
        f[full_week] = (1.0 - NAIVE_WEIGHT) * f[full_week] + NAIVE_WEIGHT * last
    return np.clip(f, 0.0, None)


def _weekday_index(y: np.ndarray, wd: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Weekday index: median over the last :data:`PROFILE_WEEKS` weeks of each day's
    ratio to the mean of its centred week (known days), so that a level change inside
    the window does not bend the profile; mean 1. Flat (ones) below
    ``forecast.MIN_PROFILE_DAYS`` days of history."""
    n = len(y)
    if n < forecast.MIN_PROFILE_DAYS:
        return np.ones(7)
    start = max(0, n - 7 * PROFILE_WEEKS)
    vals = np.where(np.isnan(y), 0.0, y)
    cnt = (~np.isnan(y)).astype(float)
    ker = np.ones(7)
    sums = np.convolve(vals, ker, "same")
    cnts = np.convolve(cnt, ker, "same")
    centred = np.where(cnts > 0, sums / np.where(cnts > 0, cnts, 1.0), np.nan)
    ratio = np.where(centred > 0, y / np.where(centred > 0, centred, 1.0), np.nan)
    med = np.full(7, np.nan)
    for d in range(7):
        v = ratio[start:][(wd[start:] == d) & use[start:]]
        v = v[np.isfinite(v)]
        if v.size:
            med[d] = np.median(v)
    if np.all(np.isnan(med)) or np.nanmean(med) <= 0:
        return np.ones(7)
    med = np.where(np.isnan(med), np.nanmean(med), med)
    return med / med.mean()


def _level(y: np.ndarray, wd: np.ndarray, index: np.ndarray, use: np.ndarray, days: int) -> float:
    window = slice(max(0, len(y) - days), len(y))
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
