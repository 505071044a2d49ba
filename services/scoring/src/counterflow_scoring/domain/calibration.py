"""Calibration of predicted probabilities against 0/1 outcomes: the Brier score and the
reliability curve (reliability diagram), as used to check the channel propensities on
held-out customers (``tests/test_domain.py``, ``bench/scoring.py``).

* Brier score: mean of ``(p - y)^2`` (Brier, "Verification of forecasts expressed in
  terms of probability", Monthly Weather Review 78, 1950); lower is better, and the
  base rate's score is the reference a useful model must beat.
* Reliability curve: predictions cut into equal-width bins of probability; per bin the
  mean prediction against the observed rate (DeGroot and Fienberg, "The comparison and
  evaluation of forecasters", The Statistician 32, 1983). A calibrated model lies on the
  diagonal. The expected calibration error (ECE) is the count-weighted mean absolute gap
  (Naeini, Cooper and Hauskrecht, AAAI 2015).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def brier(predicted: Sequence[float], outcomes: Sequence[float]) -> float:
    """Brier score of probabilities ``predicted`` (each in [0, 1]) for ``outcomes`` (0/1),
    same length.

    Raises:
        ValueError: empty or unequal inputs.
    """
    p, y = np.asarray(predicted, dtype=float), np.asarray(outcomes, dtype=float)
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"need equal, non-empty arrays, got {p.shape} and {y.shape}")
    return float(np.mean((p - y) ** 2))


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of the reliability curve: probability range ``[low, high)`` (the last bin
    closed), ``count`` predictions in it, their ``mean_predicted`` and the
    ``observed_rate`` of outcomes (probabilities)."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


def reliability_curve(predicted: Sequence[float], outcomes: Sequence[float], *, bins: int = 10) -> list[ReliabilityBin]:
    """The reliability curve of ``predicted`` against ``outcomes`` over ``bins``
    equal-width probability bins; empty bins are left out.

    Raises:
        ValueError: empty or unequal inputs, or ``bins < 1``.
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    brier(predicted, outcomes)  # validates the inputs
    p, y = np.asarray(predicted, dtype=float), np.asarray(outcomes, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, int(mask.sum()), float(p[mask].mean()), float(y[mask].mean())))
    return out


def expected_calibration_error(curve: Sequence[ReliabilityBin]) -> float:
    """Count-weighted mean of ``|observed_rate - mean_predicted|`` over the bins
    (probability units)."""
    total = sum(b.count for b in curve)
    return sum(b.count * abs(b.observed_rate - b.mean_predicted) for b in curve) / total if total else 0.0
