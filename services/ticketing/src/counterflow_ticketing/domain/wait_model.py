"""Wait forecast of a ticket: a queue-length prior corrected by quantiles learned online.

What a customer and a channel rule get for a waiting ticket (``docs/wait-estimation.md``):
the median wait ``p50_s`` (shown as ``estimated_wait_s``), an 80 % interval
``[p10_s, p90_s]`` and ``p_within_sla``, the probability of being called within the
branch's SLA target. All in seconds; pure code, no I/O.

Method, in two layers:

1. **Prior: the queue-length (QL) predictor with a fitted service-time distribution.**
   With ``n = ahead - free`` tickets to clear before a counter calls this one, the wait
   is the time of the ``n + 1``-th service completion among the able counters. Its mean is
   ``sum_{j=0..n} 1/(M + j theta)`` (Whitt 1999, M/M/s+M; ``M`` = sum of the counters'
   learned rates, ``theta`` the leaving rate). Its spread is that of a sum of ``n + 1``
   inter-completion gaps whose squared coefficient of variation is the *fitted* one of
   the service times (``cv2``, learned from served tickets) instead of the exponential 1:
   a gamma law with shape ``(n + 1) / cv2`` (the renewal-process central limit theorem,
   Cox 1962, *Renewal Theory*, ch. 6, applied to the superposed departure stream).
   Priority customers arriving during the wait overtake: a ticket that is not of top
   priority needs ``overtake_rate * W`` extra completions, so its mean is divided by
   ``1 - overtake_rate / M`` (the classical non-preemptive priority correction,
   Kleinrock 1976, *Queueing Systems* vol. 2, §3.6), capped at 3x.
2. **Learned correction: online linear quantile regression** on live features: the
   prior's quantile of the same level, the head-of-line delay (how long the oldest
   waiting ticket of the skill has waited), the last-to-enter-service delay (the wait of
   the ticket of the skill called last), the naive load ``(ahead+1) m / able`` and a
   top-priority flag. Delay-history predictors are those of Ibrahim & Whitt, "Real-time
   delay estimation based on delay history", *Operations Research* 57(5), 2009, and
   combining them with queue-length features follows Senderovich et al., "Queue mining
   for delay prediction in multi-class service processes", *Information Systems* 53,
   2015. Coefficients start at the prior (weight 1 on the prior quantile, 0 elsewhere)
   and learn from every called ticket by a normalised sub-gradient step of the pinball
   loss (Koenker & Bassett 1978, "Regression quantiles", *Econometrica* 46(1)); the
   probability learns by the same step on the log-loss (online logistic regression).
   "Every counter busy" and "a counter free" keep separate coefficients: they fail in
   different ways (the second mostly when a counter is open but its teller away).

Constants measured on the Anonymous Bank days 1-7 only (``bench/models.py``; days 8-21
were not used for any choice): :data:`LEARNING_RATE`, :data:`SCALE_S`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

#: Quantile levels the model keeps (the 80 % interval and the median).
LEVELS = (0.1, 0.5, 0.9)

#: Seconds per feature unit: keeps every feature near 1 so one step size suits all.
#: The median service time of the Anonymous Bank agents is about 100 s.
SCALE_S = 100.0

#: Step size of the normalised online updates; chosen on days 1-7 of the Anonymous
#: Bank log among 0.003, 0.01, 0.03, 0.1 (``bench/models.py`` records the sweep).
LEARNING_RATE = 0.1

#: The prior's overtaking slow-down is capped (a queue with more priority arrivals than
#: service capacity is unstable for regular tickets; the cap keeps the estimate finite).
MAX_OVERTAKE_FACTOR = 3.0

#: Number of features (intercept included) of :func:`features`.
N_FEATURES = 6

_STD_NORMAL = NormalDist()


@dataclass(frozen=True)
class QueueView:
    """What a ticket sees of its queue at one instant (all live in ticketing).

    Attributes:
        ahead: tickets before it in call order for the same skill (>= 0).
        free: open counters able to serve it with no ticket called or in service.
        rates_per_s: service rate (1/mean seconds) of every open counter able to serve it.
        abandon_rate_per_s: leaving rate of one waiting customer (1/s).
        cv2: squared coefficient of variation of service times (1 = exponential).
        overtake_rate_per_s: arrival rate of tickets of higher priority (1/s); 0 for a
            ticket of top priority.
        head_of_line_s: how long the oldest waiting ticket of the skill has waited (s).
        last_entered_s: wait of the ticket of the skill called last (s), 0 when none today.
        mean_service_s: the branch's mean service time for the service type (s).
        top_priority: whether no waiting customer class can overtake it.
    """

    ahead: int
    free: int
    rates_per_s: Sequence[float]
    abandon_rate_per_s: float = 0.0
    cv2: float = 1.0
    overtake_rate_per_s: float = 0.0
    head_of_line_s: float = 0.0
    last_entered_s: float = 0.0
    mean_service_s: float = 300.0
    top_priority: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (stored with the ticket; :meth:`from_json` reads it back)."""
        return {
            "ahead": self.ahead,
            "free": self.free,
            "rates_per_s": list(self.rates_per_s),
            "abandon_rate_per_s": self.abandon_rate_per_s,
            "cv2": self.cv2,
            "overtake_rate_per_s": self.overtake_rate_per_s,
            "head_of_line_s": self.head_of_line_s,
            "last_entered_s": self.last_entered_s,
            "mean_service_s": self.mean_service_s,
            "top_priority": self.top_priority,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueueView:
        """The view stored by :meth:`to_json`.

        Raises:
            KeyError / TypeError / ValueError: not a stored view.
        """
        return cls(
            ahead=int(data["ahead"]),
            free=int(data["free"]),
            rates_per_s=[float(r) for r in data["rates_per_s"]],
            abandon_rate_per_s=float(data["abandon_rate_per_s"]),
            cv2=float(data["cv2"]),
            overtake_rate_per_s=float(data["overtake_rate_per_s"]),
            head_of_line_s=float(data["head_of_line_s"]),
            last_entered_s=float(data["last_entered_s"]),
            mean_service_s=float(data["mean_service_s"]),
            top_priority=bool(data["top_priority"]),
        )

    @property
    def all_busy(self) -> bool:
        """Whether the ticket waits for a completion (no free counter is left for it)."""
        return self.ahead >= self.free


@dataclass(frozen=True)
class WaitForecast:
    """The forecast shown on a ticket: seconds (``p10_s <= p50_s <= p90_s``) and a probability."""

    p10_s: float
    p50_s: float
    p90_s: float
    p_within_sla: float
    prior_mean_s: float


def _gamma_quantile(mean: float, shape: float, q: float) -> float:
    """Quantile ``q`` of a gamma law (mean, shape) by Wilson & Hilferty (1931), "The
    distribution of chi-square", PNAS 17(12): cube root of a gamma is nearly normal."""
    if mean <= 0:
        return 0.0
    k = max(shape, 1e-6)
    a = 1.0 / (9.0 * k)
    return mean * max(0.0, 1.0 - a + _STD_NORMAL.inv_cdf(q) * math.sqrt(a)) ** 3


def _gamma_cdf(mean: float, shape: float, x: float) -> float:
    """P(X <= x) for the gamma law of :func:`_gamma_quantile` (same approximation)."""
    if mean <= 0:
        return 1.0
    if x <= 0:
        return 0.0
    k = max(shape, 1e-6)
    a = 1.0 / (9.0 * k)
    return _STD_NORMAL.cdf(((x / mean) ** (1.0 / 3.0) - (1.0 - a)) / math.sqrt(a))


def prior(view: QueueView) -> tuple[float, float]:
    """``(mean_s, shape)`` of the prior gamma law of the wait; mean 0 when a counter is
    free for the ticket; ``(nan, nan)`` when no open counter can serve it."""
    total = sum(view.rates_per_s)
    if not view.rates_per_s or total <= 0:
        return math.nan, math.nan
    if not view.all_busy:
        return 0.0, 1.0
    n = view.ahead - view.free
    theta = view.abandon_rate_per_s
    mean = (n + 1) / total if theta == 0 else sum(1.0 / (total + j * theta) for j in range(n + 1))
    if not view.top_priority and view.overtake_rate_per_s > 0:
        mean *= min(MAX_OVERTAKE_FACTOR, 1.0 / max(1e-9, 1.0 - view.overtake_rate_per_s / total))
    return mean, (n + 1) / max(view.cv2, 1e-3)


def features(view: QueueView, level: float | None) -> list[float]:
    """Feature vector (length :data:`N_FEATURES`, in units of :data:`SCALE_S`) for the
    quantile ``level`` (``None``: the SLA probability, whose prior feature is the logit
    of the prior probability and is filled in by :meth:`WaitModel.forecast`)."""
    mean, shape = prior(view)
    able = len(view.rates_per_s)
    prior_q = 0.0 if level is None else _gamma_quantile(mean, shape, level)
    load = (view.ahead + 1) * view.mean_service_s / max(able, 1)
    return [1.0, prior_q / SCALE_S, view.head_of_line_s / SCALE_S, view.last_entered_s / SCALE_S, load / SCALE_S, 0.0 if view.top_priority else 1.0]


def _initial(level: float | None) -> list[float]:
    w = [0.0] * N_FEATURES
    w[1] = 1.0  # the prior itself
    return w


@dataclass
class WaitModel:
    """Learned coefficients per stratum (``"busy"``, ``"free"``) and target (``"q10"``,
    ``"q50"``, ``"q90"``, ``"sla"``); :meth:`to_json` / :meth:`from_json` store it.

    Attributes:
        weights: ``{stratum: {target: [N_FEATURES floats]}}``.
        learned: called tickets folded in so far.
        rate: step size of the online updates (:data:`LEARNING_RATE`).
    """

    weights: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    learned: int = 0
    rate: float = LEARNING_RATE

    def _w(self, stratum: str, target: str, level: float | None) -> list[float]:
        by = self.weights.setdefault(stratum, {})
        if target not in by:
            by[target] = _initial(level)
        return by[target]

    def forecast(self, view: QueueView, sla_s: float) -> WaitForecast | None:
        """The :class:`WaitForecast` of a ticket; ``None`` when no open counter can serve it."""
        mean, shape = prior(view)
        if math.isnan(mean):
            return None
        stratum = "busy" if view.all_busy else "free"
        qs = []
        for level in LEVELS:
            x = features(view, level)
            qs.append(max(0.0, SCALE_S * _dot(self.weights.get(stratum, {}).get(_name(level)) or _initial(level), x)))
        qs.sort()  # quantile lines may cross; sorting keeps a valid interval
        p = self._p_within(view, stratum, mean, shape, sla_s, self.weights.get(stratum, {}).get("sla"))
        return WaitForecast(p10_s=qs[0], p50_s=qs[1], p90_s=qs[2], p_within_sla=p, prior_mean_s=mean)

    def _sla_features(self, view: QueueView, mean: float, shape: float, sla_s: float) -> list[float]:
        p0 = min(1 - 1e-4, max(1e-4, _gamma_cdf(mean, shape, sla_s)))
        x = features(view, None)
        x[1] = math.log(p0 / (1 - p0))
        return x

    def _p_within(self, view: QueueView, stratum: str, mean: float, shape: float, sla_s: float, w: list[float] | None) -> float:
        x = self._sla_features(view, mean, shape, sla_s)
        z = _dot(w or _initial(None), x)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def learn(self, view: QueueView, waited_s: float, sla_s: float) -> None:
        """Fold one called ticket (its view at issue, the wait it had) into the model."""
        mean, shape = prior(view)
        if math.isnan(mean) or waited_s < 0:
            return
        stratum = "busy" if view.all_busy else "free"
        y = waited_s / SCALE_S
        for level in LEVELS:
            x = features(view, level)
            w = self._w(stratum, _name(level), level)
            g = level - (1.0 if y < _dot(w, x) else 0.0)  # minus the pinball sub-gradient
            _step(w, x, g, self.rate)
        x = self._sla_features(view, mean, shape, sla_s)
        w = self._w(stratum, "sla", None)
        p = self._p_within(view, stratum, mean, shape, sla_s, w)
        _step(w, x, (1.0 if waited_s <= sla_s else 0.0) - p, self.rate)
        self.learned += 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the model."""
        return {"weights": self.weights, "learned": self.learned}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WaitModel:
        """The model stored by :meth:`to_json` (a fresh prior-only one for ``None``/``{}``);
        coefficient vectors of another length (an older feature set) are dropped."""
        if not data:
            return cls()
        weights = {s: {t: [float(v) for v in w] for t, w in by.items() if len(w) == N_FEATURES} for s, by in (data.get("weights") or {}).items()}
        return cls(weights=weights, learned=int(data.get("learned", 0)))


def _name(level: float) -> str:
    return f"q{round(level * 100):02d}"


def _dot(w: Sequence[float], x: Sequence[float]) -> float:
    return sum(a * b for a, b in zip(w, x, strict=True))


def _step(w: list[float], x: Sequence[float], g: float, rate: float) -> None:
    """Normalised step ``w += rate * g * x / (1 + |x|^2)`` (normalised LMS: the step
    does not blow up on a large feature vector)."""
    norm = 1.0 + sum(v * v for v in x)
    for i, v in enumerate(x):
        w[i] += rate * g * v / norm
