"""Cash forecast backtest on NN5 (used by ``bench/models.py``).

Data: ``../shared/data/nn5_atm`` (daily withdrawals at 111 ATMs in England, 1996-03-18
.. 1998-03-22; Crone 2008). Rolling weekly origins, horizons 1-14 days. The model is
selfservice's own :func:`counterflow_selfservice.domain.demand.fit` on the raw history
(missing days are censored: NaN, left out), with the public holidays of England
(``holidays``: GB, subdivision ENG). Baselines measured on the same origins and days:
seasonal-naive (same weekday last week) and the weekday median model the service used
before (:func:`counterflow_selfservice.domain.forecast.forecast_days`), both on the
history with missing days filled from the week before (as the old backtest did).

Windows as in ``bench/selfservice.py``: the constants of :mod:`demand` (``SHRINK``,
``LEVEL_DAYS``, ``PROFILE_WEEKS``, ``YEARLY_WEIGHT``, ``NAIVE_WEIGHT``) were chosen on
the *tuning* window (the last 13 origins; :data:`SWEEP` is re-measured on every run);
the *held-out* window (39 origins, 1997-03-17 .. 1997-12-08) was not used for any
choice.

Cash-out alerts on simulated cassettes: at each origin every ATM gets a cassette
holding its actual demand of the next ``D`` days, ``D`` drawn uniformly from 2..12
(seeded); it really runs dry within the 7-day alert horizon when ``D <= 7``. An alert
is raised when the forecast cumulative demand within 7 days reaches the cassette: with
the P90 for the model, with the point forecast for the baselines.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import figure
from counterflow_selfservice.domain import demand, forecast

REPO = Path(__file__).resolve().parents[1]
NN5 = REPO.parent / "shared" / "data" / "nn5_atm" / "nn5_daily_withdrawals_train.csv"
HORIZON = 14
#: origins where the constants were chosen (the last 13 weekly origins)
TUNING_FIRST = 735 - 14 - 7 * 12
#: held-out origins: weekly from day 364 (a year of history) up to the tuning window
HELD_OUT = range(364, TUNING_FIRST, 7)
TUNING = range(TUNING_FIRST, 735 - 14 + 1, 7)

COUNTRY, SUBDIV = "GB", "ENG"
ALERT_DAYS = 7
CASSETTE_DAYS = (2, 12)
SEED = 22
#: Constants of :mod:`demand` compared on the tuning window (one changed at a time
#: from the chosen values; the chosen ones are the module's).
SWEEP = {
    "YEARLY_WEIGHT": (0.0, 0.5, 1.0),
    "NAIVE_WEIGHT": (0.0, 0.15, 0.3),
    "LEVEL_DAYS": (28, 56),
}


def load_nn5(path: Path = NN5) -> tuple[list[str], np.ndarray, list[str]]:
    """``(atm names, values[atm, day] with NaN for missing, dates)`` from the NN5 file."""
    with path.open() as f:
        rows = list(csv.reader(f, delimiter=";"))
    names = [c for c in rows[0][1:] if c]
    dates = [r[0] for r in rows[1:]]
    values = np.array([[float(x) if x.strip() else np.nan for x in r[1 : 1 + len(names)]] for r in rows[1:]]).T
    return names, values, dates


def fill_missing(y: np.ndarray) -> np.ndarray:
    """Inputs only: a missing day takes the value of the same weekday a week earlier
    (or the mean of the previous four weeks when that is missing too). Actuals used for
    scoring are never filled: missing actuals are left out of sMAPE."""
    y = y.copy()
    for i in np.flatnonzero(np.isnan(y)):
        if i >= 7 and not np.isnan(y[i - 7]):
            y[i] = y[i - 7]
        else:
            window = y[max(0, i - 28) : i]
            y[i] = np.nanmean(window) if window.size and not np.all(np.isnan(window)) else 0.0
    return y


def _pinball(y: np.ndarray, f: np.ndarray, q: float) -> np.ndarray:
    d = y - f
    return np.maximum(q * d, (q - 1) * d)


def _smape_terms(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    den = np.abs(y) + np.abs(f)
    return np.where(den == 0, 0.0, 200 * np.abs(f - y) / np.where(den == 0, 1, den))


def backtest(values: np.ndarray, dates: list[date], flags: np.ndarray, origins: range, *, shrink: float = demand.SHRINK, residual_days: int = demand.RESIDUAL_DAYS) -> dict[str, Any]:
    """Every measure per horizon for the model and the baselines (see module docstring)."""
    rng = np.random.default_rng(SEED)
    n_atm = values.shape[0]
    shape = (n_atm, len(origins), HORIZON)
    keys = ("model", "seasonal_naive", "weekday_median")
    sm = {k: np.full(shape, np.nan) for k in keys}
    ae = {k: np.full(shape, np.nan) for k in keys}
    pb50 = {k: np.full(shape, np.nan) for k in keys}
    pb90 = {k: np.full(shape, np.nan) for k in keys}
    cover90 = np.full(shape, np.nan)
    cover90_cum = np.full(shape, np.nan)
    scale = np.full((n_atm, len(origins)), np.nan)
    alerts = {k: [] for k in keys}
    early = {k: [] for k in keys}
    for a in range(n_atm):
        raw = values[a]
        filled = fill_missing(raw)
        for j, o in enumerate(origins):
            y = raw[o : o + HORIZON]
            hist = raw[:o]
            s = np.nanmean(np.abs(hist[7:] - hist[:-7]))
            scale[a, j] = s
            fit = demand.fit(hist, dates[:o], flags[:o], future_flags=flags[o : o + HORIZON], horizon=HORIZON, shrink=shrink, residual_days=residual_days)
            point = fit.daily(dates[o], HORIZON, flags[o : o + HORIZON])
            p50 = point
            p90 = point * fit.daily_ratio.get(0.9, 1.0)
            cum90 = fit.cumulative_quantile(point, 0.9)
            last_wd = dates[o - 1].weekday()
            fc = {
                "model": (p50, p90, cum90),
                "seasonal_naive": (forecast.seasonal_naive(filled[:o], HORIZON),) * 2,
                "weekday_median": (forecast.forecast_days(filled[:o], last_wd, HORIZON),) * 2,
            }
            ok = ~np.isnan(y)
            for k in keys:
                f50, f90 = fc[k][0], fc[k][1]
                sm[k][a, j, ok] = _smape_terms(y[ok], f50[ok])
                ae[k][a, j, ok] = np.abs(y[ok] - f50[ok])
                pb50[k][a, j, ok] = _pinball(y[ok], f50[ok], 0.5)
                pb90[k][a, j, ok] = _pinball(y[ok], f90[ok], 0.9)
            cover90[a, j, ok] = (y[ok] <= p90[ok]).astype(float)
            if ok.all():
                cy = np.cumsum(y)
                cover90_cum[a, j] = (cy <= cum90).astype(float)
                d = int(rng.integers(CASSETTE_DAYS[0], CASSETTE_DAYS[1] + 1))
                future = raw[o : o + d]
                if len(future) == d and not np.isnan(future).any():
                    cash = float(future.sum())
                    truth = d <= ALERT_DAYS
                    dry_day = int(np.argmax(cy >= cash - 1e-9))
                    for k in keys:
                        cum = fc["model"][2] if k == "model" else np.cumsum(fc[k][0])
                        alerts[k].append((truth, bool(cum[ALERT_DAYS - 1] >= cash)))
                        hit = np.flatnonzero(cum >= cash)
                        early[k].append(dry_day < (hit[0] if hit.size else HORIZON))
    out: dict[str, Any] = {"origins": len(origins), "first_origin": dates[origins[0]].isoformat(), "last_origin": dates[origins[-1]].isoformat()}
    for k in keys:
        mase = np.nanmean(ae[k], axis=2) / scale
        tp = sum(1 for t, p in alerts[k] if t and p)
        fp = sum(1 for t, p in alerts[k] if not t and p)
        fn = sum(1 for t, p in alerts[k] if t and not p)
        out[k] = {
            "smape": float(np.nanmean(sm[k])),
            "mase": float(np.nanmean(mase[np.isfinite(mase)])),
            "pinball_p50": float(np.nanmean(pb50[k])),
            "pinball_p90": float(np.nanmean(pb90[k])),
            "smape_by_horizon": [float(np.nanmean(sm[k][:, :, h])) for h in range(HORIZON)],
            "alert_precision": tp / (tp + fp) if tp + fp else None,
            "alert_recall": tp / (tp + fn) if tp + fn else None,
            "ran_dry_before_forecast_cash_out": float(np.mean(early[k])) if early[k] else None,
            "cassettes": len(alerts[k]),
        }
    out["model"]["p90_coverage_daily"] = float(np.nanmean(cover90))
    out["model"]["p90_coverage_daily_by_horizon"] = [float(np.nanmean(cover90[:, :, h])) for h in range(HORIZON)]
    out["model"]["p90_coverage_cumulative_by_horizon"] = [float(np.nanmean(cover90_cum[:, :, h])) for h in range(HORIZON)]
    out["model"]["p90_coverage_cumulative"] = float(np.nanmean(cover90_cum))
    return out


def cash_benchmark(img: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tuning sweep, then the held-out and tuning windows; figures and details."""
    names, values, date_strings = load_nn5()
    dates = [date.fromisoformat(d) for d in date_strings]
    flags = demand.calendar_flags(dates, COUNTRY, SUBDIV)
    sweep = {}
    tuning = backtest(values, dates, flags, TUNING)
    for name, options in SWEEP.items():
        chosen = getattr(demand, name)
        for v in options:
            if v == chosen:
                r = tuning
            else:
                setattr(demand, name, v)
                try:
                    r = backtest(values, dates, flags, TUNING)
                finally:
                    setattr(demand, name, chosen)
            sweep[f"{name}={v}"] = {"smape": r["model"]["smape"], "pinball_p90": r["model"]["pinball_p90"], "p90_coverage_daily": r["model"]["p90_coverage_daily"], "chosen": v == chosen}
    held = backtest(values, dates, flags, HELD_OUT)
    m, sn, wm = held["model"], held["seasonal_naive"], held["weekday_median"]
    sn_name, wm_name = "seasonal-naive (same weekday last week)", "weekday median model (the service's previous forecast)"
    figures = {
        "cash_smape": figure(m["smape"], "% sMAPE", baseline=sn["smape"], baseline_name=sn_name, target="ratio <= 0.70"),
        "cash_smape_vs_weekday_median": figure(m["smape"], "% sMAPE", baseline=wm["smape"], baseline_name=wm_name),
        "cash_mase": figure(m["mase"], "MASE", baseline=sn["mase"], baseline_name=sn_name),
        "cash_mase_vs_weekday_median": figure(m["mase"], "MASE", baseline=wm["mase"], baseline_name=wm_name),
        "cash_pinball_p50": figure(m["pinball_p50"], "NN5 units", baseline=sn["pinball_p50"], baseline_name=sn_name),
        "cash_pinball_p90": figure(m["pinball_p90"], "NN5 units", baseline=wm["pinball_p90"], baseline_name=wm_name + " used as P90"),
        "cash_p90_coverage": figure(m["p90_coverage_daily"], "share of days at or below P90", target="0.85 .. 0.95"),
        "cash_p90_coverage_cumulative": figure(m["p90_coverage_cumulative"], "share of (origin, horizon) with cumulative demand at or below its P90", target="0.85 .. 0.95"),
        "cash_alert_precision": figure(m["alert_precision"], "share", baseline=wm["alert_precision"], baseline_name=wm_name + " (median cash-out)"),
        "cash_alert_recall": figure(m["alert_recall"], "share", baseline=wm["alert_recall"], baseline_name=wm_name + " (median cash-out)"),
        "cash_ran_dry_before_forecast": figure(m["ran_dry_before_forecast_cash_out"], "share of cassettes", baseline=wm["ran_dry_before_forecast_cash_out"], baseline_name=wm_name + " (median cash-out)", target="about 0.10 for a P90 time"),
        "cash_smape_tuning_window": figure(tuning["model"]["smape"], "% sMAPE", baseline=tuning["seasonal_naive"]["smape"], baseline_name=sn_name),
    }
    _plots(held, img)
    return figures, {"held_out": held, "tuning_window": tuning, "sweep_tuning_window": sweep, "calendar": {"country": COUNTRY, "subdivision": SUBDIV, "effects": list(demand.EFFECTS)}, "atms": len(names)}


def _plots(held: dict[str, Any], img: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    h = np.arange(1, HORIZON + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for k, label in (("model", "Counterflow (calendar, year-ago, combination)"), ("weekday_median", "weekday median (previous)"), ("seasonal_naive", "seasonal-naive")):
        a1.plot(h, held[k]["smape_by_horizon"], "o-", label=label)
    a1.set_xlabel("horizon (days)")
    a1.set_ylabel("sMAPE (%)")
    a1.set_title("NN5 held-out origins: error by horizon")
    a1.legend(fontsize=8)
    a2.plot(h, held["model"]["p90_coverage_daily_by_horizon"], "o-", label="daily demand <= P90")
    a2.plot(h, held["model"]["p90_coverage_cumulative_by_horizon"], "s-", label="cumulative demand <= P90")
    a2.axhspan(0.85, 0.95, color="green", alpha=0.15, label="target 85-95 %")
    a2.set_ylim(0.5, 1.0)
    a2.set_xlabel("horizon (days)")
    a2.set_ylabel("coverage")
    a2.set_title("Calibration of the P90")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(img / "cash_by_horizon.png", dpi=110)
    plt.close(fig)
