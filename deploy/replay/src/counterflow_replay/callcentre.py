"""Fits on the Anonymous Bank call-centre records (Technion SEE lab, Mandelbaum; February
1999, ``../shared/data/anonymous_bank``): the best public record of a real bank queue.

What is fitted and how (docs/replay.md gives the figures of the current data):

- arrival profile: the time of day at which callers asked for an agent (``vru_exit`` of
  calls that queued or were served by a named agent), weekdays of the Israeli business
  week (Sunday-Thursday), counted in 15-minute slots inside the branch's opening hours and
  normalised to a probability per slot;
- service time: a log-normal distribution (location 0, maximum likelihood) fitted on ``ser_time`` of calls served by a named agent; the call types map
  to counter service types in :data:`CALL_TYPE_OF_SERVICE`;
- teller speed: each agent's mean service time on ``PS`` calls divided by the mean of all
  agents (agents with at least :data:`MIN_AGENT_CALLS` such calls), a multiplier of the
  service time (1.2 = 20 % slower);
- patience: exponential, rate = abandoned calls / total time all queued callers spent
  waiting (the censored maximum-likelihood estimate used for this data by Brown et al.,
  "Statistical analysis of a telephone call center", JASA 100 (2005)).

Known defects (data README): rows with a negative ``vru_time`` are DROPPED (23 rows; their
timestamps cannot be trusted); ``ser_start`` preceding ``vru_exit`` by 1-2 s is CLAMPED
(the arrival is ``min(vru_exit, ser_start)``); ``PHANTOM`` calls (unknown outcome) and
``NO_SERVER`` service records (VRU-only calls, a few seconds) are left out of every fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

#: Counter service type -> call type whose service times stand for it. ``PS`` ("regular
#: activity") is the only type made of routine account operations; internet consulting,
#: stock exchange and prospect calls have no branch-counter counterpart among the visits.
CALL_TYPE_OF_SERVICE = {"cash_withdrawal": "PS", "cash_deposit": "PS", "bill_payment": "PS"}

#: An agent needs this many served PS calls for its speed to count (below it the mean
#: rests on a handful of calls; the count kept is reported in :meth:`CallCentreFit.summary`).
MIN_AGENT_CALLS = 100

#: Width of an arrival-profile slot (seconds).
SLOT_S = 900

#: The Israeli business week of 1999: Sunday (6) to Thursday (3), pandas day numbers.
BUSINESS_WEEKDAYS = (6, 0, 1, 2, 3)


@dataclass(frozen=True)
class ServiceTimeFit:
    """A log-normal service time: ``shape`` (sigma of the log), ``scale`` (seconds, e^mu).

    Attributes:
        call_type: call type fitted.
        n: calls used.
        mean_s / median_s: of the fitted distribution (seconds).
        observed_mean_s: sample mean (seconds).
        ks: Kolmogorov-Smirnov distance between sample and fit (0..1).
    """

    call_type: str
    shape: float
    scale: float
    n: int
    mean_s: float
    median_s: float
    observed_mean_s: float
    ks: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` service times (seconds, at least 1 s)."""
        return np.maximum(1.0, self.scale * np.exp(self.shape * rng.standard_normal(size)))


@dataclass(frozen=True)
class CallCentreFit:
    """Everything the replay takes from the call centre.

    Attributes:
        opens / closes: local opening hours the profile covers.
        slot_starts_s: start of each profile slot (seconds after ``opens``).
        slot_probability: probability of an arrival in each slot (sums to 1).
        service: fit per call type (see :data:`CALL_TYPE_OF_SERVICE`).
        agent_speed: service-time multipliers of the named agents (mean 1).
        patience_mean_s: mean patience of a waiting customer (seconds, exponential).
        calls_read / calls_dropped: rows read and rows dropped as defective.
        abandon_share: share of queued callers who hung up.
    """

    opens: time
    closes: time
    slot_starts_s: np.ndarray
    slot_probability: np.ndarray
    service: dict[str, ServiceTimeFit]
    agent_speed: np.ndarray
    patience_mean_s: float
    calls_read: int
    calls_dropped: int
    abandon_share: float
    notes: list[str] = field(default_factory=list)

    def arrival_offsets(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` arrival moments (seconds after opening) drawn from the profile,
        uniform within a slot, sorted."""
        slots = rng.choice(len(self.slot_probability), size=size, p=self.slot_probability)
        return np.sort(self.slot_starts_s[slots] + rng.uniform(0, SLOT_S, size))

    def service_of(self, service_type: str) -> ServiceTimeFit:
        """The fit standing for a counter ``service_type``.

        Raises:
            KeyError: no call type is mapped to it.
        """
        return self.service[CALL_TYPE_OF_SERVICE[service_type]]

    def summary(self) -> dict[str, object]:
        """A JSON-able summary (units in the key names)."""
        return {
            "opens": self.opens.isoformat("minutes"),
            "closes": self.closes.isoformat("minutes"),
            "calls_read": self.calls_read,
            "calls_dropped_defective": self.calls_dropped,
            "service_time": {k: {"shape": round(v.shape, 4), "scale_s": round(v.scale, 2), "mean_s": round(v.mean_s, 1), "median_s": round(v.median_s, 1), "observed_mean_s": round(v.observed_mean_s, 1), "n": v.n, "ks": round(v.ks, 4)} for k, v in self.service.items()},
            "teller_speed_multipliers": {"n": int(len(self.agent_speed)), "min": round(float(self.agent_speed.min()), 3), "max": round(float(self.agent_speed.max()), 3), "std": round(float(self.agent_speed.std()), 3)},
            "patience_mean_s": round(self.patience_mean_s, 1),
            "abandon_share": round(self.abandon_share, 4),
        }


def _seconds(col: pd.Series) -> pd.Series:
    parts = col.astype(str).str.split(":", expand=True).astype(int)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def load_calls(folder: Path) -> tuple[pd.DataFrame, int]:
    """Read the calls file of ``folder``; returns ``(calls, dropped)`` where ``calls`` has
    the file's columns plus ``weekday`` and second-of-day ``arrival_s``.

    Raises:
        FileNotFoundError: no ``calls_*.tsv`` in ``folder``.
    """
    files = sorted(folder.glob("calls_*.tsv"))
    if not files:
        raise FileNotFoundError(f"no calls_*.tsv in {folder} (the Anonymous Bank call-centre records)")
    calls = pd.concat([pd.read_csv(f, sep="\t") for f in files], ignore_index=True)
    bad = calls["vru_time"] < 0
    calls = calls[~bad].copy()
    calls["weekday"] = pd.to_datetime(calls["date"].astype(str), format="%y%m%d").dt.day_of_week
    vru_exit = _seconds(calls["vru_exit"])
    ser_start = _seconds(calls["ser_start"])
    calls["arrival_s"] = np.where(ser_start > 0, np.minimum(vru_exit, ser_start), vru_exit)
    return calls, int(bad.sum())


def _agent_calls(calls: pd.DataFrame) -> pd.DataFrame:
    return calls[(calls["outcome"] == "AGENT") & (calls["server"] != "NO_SERVER") & (calls["ser_time"] > 0)]


def fit_service(calls: pd.DataFrame, call_type: str) -> ServiceTimeFit:
    """Log-normal fit of the service times of ``call_type``.

    Raises:
        ValueError: fewer than 30 served calls of that type.
    """
    x = _agent_calls(calls)
    x = x[x["type"] == call_type]["ser_time"].to_numpy(dtype=float)
    if len(x) < 30:
        raise ValueError(f"only {len(x)} served {call_type} calls: too few to fit")
    # maximum likelihood of a log-normal with location 0 in closed form (what
    # scipy's lognorm.fit(x, floc=0) computes numerically): the mean and the population
    # standard deviation of log x
    logs = np.log(x)
    shape, scale = float(logs.std()), float(np.exp(logs.mean()))
    dist = stats.lognorm(shape, 0, scale)
    return ServiceTimeFit(call_type, float(shape), float(scale), len(x), float(dist.mean()), float(dist.median()), float(x.mean()), float(stats.kstest(x, dist.cdf).statistic))


def fit(folder: Path, *, opens: time = time(8, 0), closes: time = time(17, 0)) -> CallCentreFit:
    """Fit the arrival profile over ``[opens, closes)``, the service times of every mapped
    call type, the agent speeds and the patience.

    Raises:
        FileNotFoundError: no calls file; ValueError: too few calls for a fit or an empty
        profile window.
    """
    calls, dropped = load_calls(folder)
    asked = calls[(calls["outcome"] == "HANG") | ((calls["outcome"] == "AGENT") & (calls["server"] != "NO_SERVER"))]
    asked = asked[asked["weekday"].isin(BUSINESS_WEEKDAYS)]
    o = opens.hour * 3600 + opens.minute * 60
    c = closes.hour * 3600 + closes.minute * 60
    if c - o < SLOT_S:
        raise ValueError("opening hours shorter than one profile slot")
    edges = np.arange(o, c + 1, SLOT_S)
    counts, _ = np.histogram(asked["arrival_s"], bins=edges)
    if counts.sum() == 0:
        raise ValueError("no calls inside the opening hours")
    service = {t: fit_service(calls, t) for t in sorted(set(CALL_TYPE_OF_SERVICE.values()))}
    served_ps = _agent_calls(calls)
    served_ps = served_ps[served_ps["type"] == "PS"]
    per_agent = served_ps.groupby("server")["ser_time"].agg(["count", "mean"])
    per_agent = per_agent[per_agent["count"] >= MIN_AGENT_CALLS]
    speed = (per_agent["mean"] / per_agent["mean"].mean()).to_numpy()
    queued = calls[(calls["q_time"] > 0) & calls["outcome"].isin(["AGENT", "HANG"])]
    hung = int((queued["outcome"] == "HANG").sum())
    rate = hung / float(queued["q_time"].sum())
    return CallCentreFit(
        opens=opens,
        closes=closes,
        slot_starts_s=(edges[:-1] - o).astype(float),
        slot_probability=counts / counts.sum(),
        service=service,
        agent_speed=np.sort(speed),
        patience_mean_s=1.0 / rate,
        calls_read=len(calls) + dropped,
        calls_dropped=dropped,
        abandon_share=hung / max(1, len(queued)),
    )
