"""Model benchmark (issue 22): the wait estimate and the cash forecast against their
baselines, measured in one run, with the plots of ``docs/wait-estimation.md`` and
``docs/cash-forecast.md``.

1. Wait estimate (``bench/wait_replay.py``): the Anonymous Bank days replayed through
   ticketing's own estimator and learning, walk-forward; every served caller of days
   2-21 scored. Estimators compared on the same callers: naive ``position x mean
   service time / open counters``; the same with 0 when a counter is free;
   last-to-enter-service (LES) and head-of-line (HOL) delay (Ibrahim & Whitt 2009);
   the previous Counterflow estimate (QL mean); Counterflow (learned median). MAE and
   RMSE overall and where every counter is busy for the caller, 80 % interval coverage,
   Brier score of ``p_called_within_sla``. Days 8-21 are reported apart: the step size
   was chosen on days 1-7.
2. Cash forecast (``bench/cash_backtest.py``): NN5 rolling origins.

Writes ``bench/results/models.json``; plots to ``docs/img/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.common import figure, write_result
from bench.wait_replay import SLA_S, Scored, load_calls, replay

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
#: Step sizes compared on days 1-7 (the choice recorded in wait_model.LEARNING_RATE).
RATE_SWEEP = (0.01, 0.03, 0.1, 0.3)
#: Estimators and their column in :class:`Scored`.
WAIT_ESTIMATORS = {
    "naive": "naive",
    "zero_when_free_else_naive": "naive_free0",
    "last_to_enter_service": "last_entered",
    "head_of_line": "head_of_line",
    "previous_counterflow_ql_mean": "ql",
    "counterflow": "p50",
}


def _errors(rows: list[Scored]) -> dict[str, Any]:
    y = np.array([r.waited for r in rows])
    busy = np.array([r.all_busy for r in rows])
    out: dict[str, Any] = {"calls": len(rows), "all_busy_calls": int(busy.sum()), "mean_wait_s": float(y.mean())}
    for name, col in WAIT_ESTIMATORS.items():
        e = np.array([getattr(r, col) for r in rows]) - y
        out[name] = {
            "mae_s": float(np.abs(e).mean()),
            "rmse_s": float(np.sqrt((e**2).mean())),
            "bias_s": float(e.mean()),
            "all_busy_mae_s": float(np.abs(e[busy]).mean()),
            "all_busy_rmse_s": float(np.sqrt((e[busy] ** 2).mean())),
            "all_busy_bias_s": float(e[busy].mean()),
            "free_mae_s": float(np.abs(e[~busy]).mean()),
        }
    p10 = np.array([r.p10 for r in rows])
    p90 = np.array([r.p90 for r in rows])
    inside = (y >= p10) & (y <= p90)
    p = np.array([r.p_within_sla for r in rows])
    hit = (y <= SLA_S).astype(float)
    out["interval_80"] = {
        "coverage": float(inside.mean()),
        "all_busy_coverage": float(inside[busy].mean()),
        "below_p10": float((y < p10).mean()),
        "above_p90": float((y > p90).mean()),
        "mean_width_s": float((p90 - p10).mean()),
    }
    out["p_called_within_sla"] = {
        "sla_s": SLA_S,
        "brier": float(((p - hit) ** 2).mean()),
        "brier_climatology": float(hit.mean() * (1 - hit.mean())),
        "observed_share": float(hit.mean()),
        "mean_probability": float(p.mean()),
    }
    return out


def wait_benchmark() -> tuple[dict[str, Any], dict[str, Any]]:
    """Part 1: ``(figures, details)``."""
    calls = load_calls()
    sweep = {}
    for rate in RATE_SWEEP:
        r = _errors(replay(calls, rate=rate, days=7))
        sweep[str(rate)] = {"mae_s": r["counterflow"]["mae_s"], "all_busy_mae_s": r["counterflow"]["all_busy_mae_s"], "brier": r["p_called_within_sla"]["brier"], "coverage": r["interval_80"]["coverage"]}
    rows = replay(calls)
    all_days = _errors(rows)
    late = _errors([r for r in rows if r.day >= 7])
    per_day = {str(d + 1): _errors([r for r in rows if r.day == d])["counterflow"]["mae_s"] for d in sorted({r.day for r in rows})}
    naive_per_day = {str(d + 1): _errors([r for r in rows if r.day == d])["naive"]["mae_s"] for d in sorted({r.day for r in rows})}
    cf, nv = all_days["counterflow"], all_days["naive"]
    base = "naive position x mean service time / open counters, same callers"
    figures = {
        "wait_mae": figure(cf["mae_s"], "s", baseline=nv["mae_s"], baseline_name=base, target="ratio <= 0.75"),
        "wait_mae_all_busy": figure(cf["all_busy_mae_s"], "s", baseline=nv["all_busy_mae_s"], baseline_name=base + ", every counter busy for the caller", target="ratio <= 0.85"),
        "wait_rmse": figure(cf["rmse_s"], "s", baseline=nv["rmse_s"], baseline_name=base),
        "wait_rmse_all_busy": figure(cf["all_busy_rmse_s"], "s", baseline=nv["all_busy_rmse_s"], baseline_name=base + ", every counter busy for the caller"),
        "wait_mae_days_8_21": figure(late["counterflow"]["mae_s"], "s", baseline=late["naive"]["mae_s"], baseline_name=base + " (days not used for any choice)"),
        "wait_mae_all_busy_days_8_21": figure(late["counterflow"]["all_busy_mae_s"], "s", baseline=late["naive"]["all_busy_mae_s"], baseline_name=base + " (days not used for any choice)"),
        "wait_interval_80_coverage": figure(all_days["interval_80"]["coverage"], "share", target="0.75 .. 0.85"),
        "wait_p_within_sla_brier": figure(all_days["p_called_within_sla"]["brier"], "Brier score", baseline=all_days["p_called_within_sla"]["brier_climatology"], baseline_name="constant probability = observed share (climatology)"),
    }
    for name in WAIT_ESTIMATORS:
        if name != "counterflow":
            figures[f"wait_mae_{name}"] = figure(all_days[name]["mae_s"], "s", baseline=nv["mae_s"], baseline_name=base)
            figures[f"wait_mae_all_busy_{name}"] = figure(all_days[name]["all_busy_mae_s"], "s", baseline=nv["all_busy_mae_s"], baseline_name=base)
    _wait_plots(rows, all_days)
    details = {"days_2_21": all_days, "days_8_21": late, "learning_rate_sweep_days_1_7": sweep, "mae_per_day_s": {"counterflow": per_day, "naive": naive_per_day}}
    return figures, details


def _wait_plots(rows: list[Scored], summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG.mkdir(parents=True, exist_ok=True)
    names = list(WAIT_ESTIMATORS)
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(names))
    ax.bar(x - 0.2, [summary[n]["mae_s"] for n in names], 0.4, label="all callers")
    ax.bar(x + 0.2, [summary[n]["all_busy_mae_s"] for n in names], 0.4, label="every counter busy")
    ax.set_xticks(x, [n.replace("_", " ") for n in names], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("MAE (s)")
    ax.set_title("Wait estimate error by stratum, Anonymous Bank days 2-21")
    ax.legend()
    fig.tight_layout()
    fig.savefig(IMG / "wait_mae_by_stratum.png", dpi=110)
    plt.close(fig)

    p = np.array([r.p_within_sla for r in rows])
    hit = np.array([r.waited <= SLA_S for r in rows], dtype=float)
    bins = np.linspace(0, 1, 11)
    idx = np.clip(np.digitize(p, bins) - 1, 0, 9)
    mids, obs, counts = [], [], []
    for b in range(10):
        m = idx == b
        if m.sum() >= 20:
            mids.append(p[m].mean())
            obs.append(hit[m].mean())
            counts.append(int(m.sum()))
    y = np.array([r.waited for r in rows])
    p50 = np.array([r.p50 for r in rows])
    p10 = np.array([r.p10 for r in rows])
    p90 = np.array([r.p90 for r in rows])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    a1.plot(mids, obs, "o-", label="Counterflow")
    a1.set_xlabel(f"predicted P(called within {SLA_S:.0f} s)")
    a1.set_ylabel("observed share")
    a1.set_title("Calibration of p_called_within_sla")
    a1.legend()
    order = np.argsort(p50)
    groups = np.array_split(order, 10)
    a2.plot([np.median(p50[g]) for g in groups], [((y[g] >= p10[g]) & (y[g] <= p90[g])).mean() for g in groups], "o-", label="inside [p10, p90]")
    a2.plot([np.median(p50[g]) for g in groups], [(y[g] <= p50[g]).mean() for g in groups], "s-", label="below p50")
    a2.axhline(0.8, color="k", ls="--", lw=1)
    a2.axhline(0.5, color="grey", ls=":", lw=1)
    a2.set_xlabel("predicted median wait (s), deciles")
    a2.set_ylabel("share of callers")
    a2.set_ylim(0, 1)
    a2.set_title("Interval coverage by predicted wait")
    a2.legend()
    fig.tight_layout()
    fig.savefig(IMG / "wait_calibration.png", dpi=110)
    plt.close(fig)


def run() -> dict[str, Any]:
    """Both parts; writes ``models.json``."""
    from bench.cash_backtest import cash_benchmark

    wait_figures, wait_details = wait_benchmark()
    cash_figures, cash_details = cash_benchmark(IMG)
    figures = {**wait_figures, **cash_figures}
    write_result(
        "models",
        figures,
        data={
            "wait": "Anonymous Bank call centre, February 1-21 1999 (Technion SEE lab, A. Mandelbaum); ../shared/data/anonymous_bank/calls_1999_02_01-21.tsv",
            "cash": "NN5 daily withdrawals at 111 UK ATMs, 1996-03-18 .. 1998-03-22 (Crone 2008); ../shared/data/nn5_atm/nn5_daily_withdrawals_train.csv",
        },
        method={
            "wait": "walk-forward event replay through counterflow_ticketing's CounterPool.view, WaitModel.forecast/learn and updated_mean (bench/wait_replay.py); served callers of days 2-21 scored",
            "cash": "rolling weekly origins, horizons 1-14, forecasts from counterflow_selfservice.domain.forecast (bench/cash_backtest.py)",
        },
        wait=wait_details,
        cash=cash_details,
    )
    return figures
