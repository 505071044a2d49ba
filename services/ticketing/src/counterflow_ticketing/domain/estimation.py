"""Estimated wait: the queue-length predictor for a many-server queue with abandonment.

Method (documented in ``docs/wait-estimation.md``): a ticket with ``ahead`` tickets in
front of it in call order, ``free`` open counters able to serve it that are idle now,
and open counters with service rates ``mu_i = 1 / mean_service_s_i`` (learned per teller
and service type from the branch's own served tickets) waits

* ``0`` when ``ahead < free`` (a free counter will call it at once),
* otherwise ``sum_{j=0}^{n} 1 / (M + j * theta)`` seconds with ``n = ahead - free`` and
  ``M = sum_i mu_i``, where ``theta`` is the rate at which a waiting customer leaves
  without being served (no-shows, cancellations, diversions; per second per customer).

With ``theta = 0`` this is ``(n + 1) / M``, the M/M/s queue-length predictor; with
abandonment it is the QL predictor of Whitt (1999), "Predicting queueing delays",
Management Science 45(6):870-888, eq. for the M/M/s+M model, evaluated in Ibrahim and
Whitt (2009), "Real-time delay estimation based on delay history", Operations Research
57(5):1297-1308. Heterogeneous tellers enter through the sum of their rates.

With no open counter able to serve, the wait is unknown (``None``), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Served tickets needed before a learned mean replaces the fallback (per teller or per type).
MIN_HISTORY = 5

#: After this many observations the running mean becomes an exponentially weighted one
#: (weight 1/EWMA_HORIZON for the newest), so that the estimate follows a teller's pace.
EWMA_HORIZON = 50


def updated_mean(mean_s: float, served: int, new_s: float) -> float:
    """Mean service time after one more observation ``new_s`` (seconds): running mean for
    the first :data:`EWMA_HORIZON` tickets, then an EWMA with weight ``1/EWMA_HORIZON``."""
    n = served + 1
    weight = 1.0 / min(n, EWMA_HORIZON)
    return mean_s + weight * (new_s - mean_s)


@dataclass(frozen=True)
class LearnedTime:
    """A learned mean service time (seconds), how many served tickets it rests on and the
    learned mean of its square (seconds squared; ``None`` before it was learned)."""

    mean_s: float
    served: int
    mean_sq_s: float | None = None  # learned mean of the squared service time (s^2)


def mean_service_s(
    *, teller_id: str | None, service_type: str, learned: Mapping[tuple[str, str], LearnedTime], default_s: float
) -> float:
    """Mean service time of ``teller_id`` for ``service_type`` in seconds.

    Uses, in order: the teller's own mean for the type, the branch mean for the type
    (key ``(service_type, "*")``), ``default_s``; a learned mean counts once it rests on
    :data:`MIN_HISTORY` tickets.
    """
    for key in ((service_type, teller_id or ""), (service_type, "*")):
        got = learned.get(key)
        if got is not None and got.served >= MIN_HISTORY and got.mean_s > 0:
            return got.mean_s
    return default_s


def service_cv2(*, service_type: str, learned: Mapping[tuple[str, str], LearnedTime], default: float = 1.0) -> float:
    """Squared coefficient of variation ``E[X^2]/E[X]^2 - 1`` of the branch's service
    times for ``service_type`` (key ``(service_type, "*")``), from the learned first and
    second moments; ``default`` (1 = exponential) before :data:`MIN_HISTORY` tickets."""
    got = learned.get((service_type, "*"))
    if got is None or got.served < MIN_HISTORY or not got.mean_sq_s or got.mean_s <= 0:
        return default
    return max(0.05, got.mean_sq_s / (got.mean_s * got.mean_s) - 1.0)


def abandon_rate(left: int, exposure_s: float) -> float:
    """Leaving rate of a waiting customer (1/s): ``left / exposure_s``, the maximum-likelihood
    rate of exponential patience from ``left`` departures over ``exposure_s`` waiting seconds."""
    return left / exposure_s if exposure_s > 0 else 0.0


def expected_wait_s(*, ahead: int, free: int, rates_per_s: Sequence[float], abandon_rate_per_s: float = 0.0) -> float | None:
    """Expected wait in seconds of a ticket with ``ahead`` tickets before it.

    Args:
        ahead: tickets ahead of it in call order that the same counters serve (>= 0).
        free: open counters able to serve it that are idle now (>= 0).
        rates_per_s: service rate ``1/mean_service_s`` of every open counter able to serve it.
        abandon_rate_per_s: ``theta``, leaving rate of one waiting customer (1/s).

    Returns:
        seconds (>= 0), or ``None`` when no open counter can serve it.

    Raises:
        ValueError: negative ``ahead``/``free``/rates.
    """
    if ahead < 0 or free < 0 or abandon_rate_per_s < 0 or any(r < 0 for r in rates_per_s):
        raise ValueError("ahead, free, rates and abandonment rate must be non-negative")
    total = sum(rates_per_s)
    if not rates_per_s or total <= 0:
        return None
    if ahead < free:
        return 0.0
    n = ahead - free
    if abandon_rate_per_s == 0:
        return (n + 1) / total
    return sum(1.0 / (total + j * abandon_rate_per_s) for j in range(n + 1))


def naive_wait_s(*, position: int, mean_service_s: float, servers: int) -> float | None:
    """The naive estimate ``position * mean_service_s / servers`` (seconds; ``position``
    1-based), the baseline of the backtest; ``None`` with no server."""
    if servers <= 0:
        return None
    return max(0, position) * mean_service_s / servers
