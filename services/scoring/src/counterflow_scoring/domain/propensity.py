"""Propensity to accept a diversion to each alternative channel.

Model, in three layers (all probabilities in [0, 1]):

1. **Cold start** (no accept/decline history in the bank yet): a logistic model over
   profile features with stated coefficients, :data:`COLD_START`. The age slope of the
   mobile channel (-0.535 log-odds per decade) is fitted on the UCI Bank Marketing data
   (Moro, Cortez and Rita, "A data-driven approach to predict the success of bank
   telemarketing", Decision Support Systems 62, 2014): logistic regression of being
   reachable on a mobile ("cellular") rather than a landline on age
   (``tests/test_propensity.py`` refits it from the file). The other coefficients are
   stated assumptions: card holders and customers who already use machines accept a
   self-service device more readily; older customers and borrowers accept an
   appointment more readily; past use of a channel raises its odds.
2. **Population model**: once a channel has ``min_outcomes`` accept/decline answers with
   both answers present, a logistic regression (scikit-learn, L2, log-loss) is fitted on
   the same features for that channel and replaces the cold start. Logistic regression
   fitted by log-loss gives calibrated probabilities when the model is well specified
   (Niculescu-Mizil and Caruana, "Predicting good probabilities with supervised
   learning", ICML 2005); the benchmark checks it with the Brier score against the
   base rate on a held-out stream.
3. **Personal history**: the customer's own answers on the channel update a Beta prior
   centred on the layer-1/2 probability with strength ``k`` pseudo-offers (empirical
   Bayes Beta-Binomial, Gelman et al., *Bayesian Data Analysis*, 3rd ed., ch. 2):
   ``p = (k p0 + accepted) / (k + offers)``. Every acceptance moves the estimate up,
   every decline down.

Channels: a diversion to an ATM, cash recycler or kiosk is ``self_service``; to the app
or web bank ``mobile``; to a booked slot ``appointment``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CHANNELS: tuple[str, ...] = ("self_service", "mobile", "appointment")
#: Diversion target channel (``DiversionChanged.channel``) -> propensity channel.
CHANNEL_GROUP = {
    "atm": "self_service",
    "cash_recycler": "self_service",
    "kiosk": "self_service",
    "self_service": "self_service",
    "mobile": "mobile",
    "online": "mobile",
    "appointment": "appointment",
}
#: Features of the propensity models, in this order.
FEATURES: tuple[str, ...] = ("age_decades", "has_card", "has_loan", "self_service_share", "mobile_share", "percentile")
COLD_START_VERSION = "propensity-cold-start-1"

#: Cold-start log-odds: intercept at age 40 with no card, no loan and an even channel
#: mix, plus a coefficient per feature (see the module docstring for the sources).
COLD_START: dict[str, dict[str, float]] = {
    "self_service": {"intercept": -0.4, "age_decades": -0.25, "has_card": 0.8, "has_loan": 0.0, "self_service_share": 2.0, "mobile_share": 0.5, "percentile": -0.5},
    "mobile": {"intercept": -0.6, "age_decades": -0.535, "has_card": 0.3, "has_loan": 0.0, "self_service_share": 0.5, "mobile_share": 2.5, "percentile": 0.0},
    "appointment": {"intercept": -1.0, "age_decades": 0.2, "has_card": 0.0, "has_loan": 0.5, "self_service_share": -0.5, "mobile_share": 0.0, "percentile": 0.8},
}


def channel_of(diversion_channel: str) -> str | None:
    """Propensity channel of a diversion's target channel; ``None`` for the counter."""
    return CHANNEL_GROUP.get(diversion_channel)


def _column(profiles: Mapping[str, Any], name: str, missing: float) -> np.ndarray:
    values = np.asarray(profiles[name], dtype=float)
    return np.where(np.isnan(values), missing, values)


def feature_matrix(profiles: Mapping[str, Any]) -> np.ndarray:
    """``(n, len(FEATURES))`` matrix from profile columns (a DataFrame, or a dict of
    equal-length sequences) ``age_years``, ``has_card``, ``has_loan``,
    ``self_service_uses``, ``counter_uses``, ``mobile_uses`` and ``percentile``
    (0..100). Channel shares use add-one smoothing over the three channels (counter,
    self-service, mobile); unknown values count as 0, an unknown age as 40 and an
    unknown percentile as 50."""
    ss = _column(profiles, "self_service_uses", 0.0)
    counter = _column(profiles, "counter_uses", 0.0)
    mob = _column(profiles, "mobile_uses", 0.0)
    total = ss + counter + mob + 3.0
    return np.column_stack(
        [
            (_column(profiles, "age_years", 40.0) - 40.0) / 10.0,
            _column(profiles, "has_card", 0.0),
            _column(profiles, "has_loan", 0.0),
            (ss + 1.0) / total - 1.0 / 3.0,
            (mob + 1.0) / total - 1.0 / 3.0,
            _column(profiles, "percentile", 50.0) / 100.0 - 0.5,
        ]
    )


@dataclass
class ChannelModel:
    """Logistic model of one channel: ``p0 = sigmoid(intercept + X @ coef)``."""

    channel: str
    version: str
    intercept: float
    coef: list[float]
    training_outcomes: int = 0
    base_rate: float | None = None
    extra: dict = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for the rows of feature matrix ``x``."""
        return 1.0 / (1.0 + np.exp(-(self.intercept + x @ np.asarray(self.coef))))

    def params(self) -> dict:
        """JSON form (stored in ``propensity_models.params``)."""
        return {"intercept": self.intercept, "coef": dict(zip(FEATURES, self.coef)), "base_rate": self.base_rate, **self.extra}

    @classmethod
    def from_params(cls, channel: str, version: str, params: dict, training_outcomes: int) -> "ChannelModel":
        """Inverse of :meth:`params`."""
        return cls(channel, version, float(params["intercept"]), [float(params["coef"][f]) for f in FEATURES], training_outcomes, params.get("base_rate"))


def cold_start_model(channel: str) -> ChannelModel:
    """The stated cold-start model of ``channel`` (:data:`COLD_START`).

    Raises:
        KeyError: unknown channel.
    """
    c = COLD_START[channel]
    return ChannelModel(channel, COLD_START_VERSION, c["intercept"], [c[f] for f in FEATURES])


def fit_channel_model(channel: str, x: np.ndarray, accepted: np.ndarray, *, min_outcomes: int, version: str) -> ChannelModel:
    """Fit the population model of ``channel`` on outcomes (rows of ``x``, ``accepted``
    0/1); falls back to :func:`cold_start_model` with fewer than ``min_outcomes``
    outcomes or when all answers are the same."""
    y = np.asarray(accepted, dtype=int)
    if len(y) < min_outcomes or y.min() == y.max():
        return cold_start_model(channel)
    # imported here: scikit-learn costs ~100 MB and seconds of start-up, and only the
    # population refit needs it (the service's API and consumers never do)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return ChannelModel(channel, version, float(model.intercept_[0]), [float(c) for c in model.coef_[0]], int(len(y)), float(y.mean()))


def personalise(p0: np.ndarray, accepted: np.ndarray, offers: np.ndarray, strength: float) -> np.ndarray:
    """Beta-Binomial posterior mean ``(k p0 + accepted) / (k + offers)`` (arrays of the
    same shape; ``strength`` = k pseudo-offers > 0)."""
    return (strength * np.asarray(p0, dtype=float) + np.asarray(accepted, dtype=float)) / (strength + np.asarray(offers, dtype=float))


def material_change(previous: dict[str, float] | None, current: dict[str, float], threshold: float) -> bool:
    """Whether ``current`` propensities moved by at least ``threshold`` (probability units)
    on any channel from ``previous`` (always true when nothing was published yet)."""
    if not previous:
        return True
    # the 1e-9 tolerance keeps 0.35 - 0.30 (0.04999... in binary) a move of 0.05
    return any(abs(current.get(c, 0.0) - float(previous.get(c, 0.0))) >= threshold - 1e-9 for c in CHANNELS)
