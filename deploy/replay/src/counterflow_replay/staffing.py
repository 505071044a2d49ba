"""Tellers per branch from the offered load (Erlang C, M/M/c).

A branch is staffed with the fewest tellers that keep its PEAK 15-minute slot stable
without any diversion: ``c = floor(a_peak) + 1`` where ``a_peak = lambda_peak * E[S]`` is
the offered load in Erlangs (arrival rate of the busiest profile slot times the mean
service time). The busiest branches therefore run close to capacity at their peak, which
is the situation diversion is for; quieter branches get one teller. Erlang C (A. K.
Erlang, 1917; e.g. Gross & Harris, "Fundamentals of Queueing Theory", section 2.3) gives
the probability of waiting and the mean wait reported next to the staffing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with ``servers`` and offered
    ``load`` (Erlangs); 1.0 when ``load >= servers`` (unstable).

    Raises:
        ValueError: ``servers < 1`` or ``load < 0``.
    """
    if servers < 1 or load < 0:
        raise ValueError("servers must be >= 1 and load >= 0")
    if load >= servers:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    top = term * load / servers * servers / (servers - load)
    return top / (total + top)


@dataclass(frozen=True)
class Staffing:
    """The staffing of one branch.

    Attributes:
        branch_id: ``D<district>``.
        visits: counter visits of the day.
        peak_rate_per_h: arrivals per hour in the busiest slot.
        peak_load: offered load in the busiest slot (Erlangs).
        tellers: tellers staffed.
        peak_utilisation: ``peak_load / tellers`` (0..1).
        peak_wait_probability: Erlang C probability of waiting at the peak.
        peak_mean_wait_s: Erlang C mean wait at the peak (seconds).
    """

    branch_id: str
    visits: int
    peak_rate_per_h: float
    peak_load: float
    tellers: int
    peak_utilisation: float
    peak_wait_probability: float
    peak_mean_wait_s: float


def staff_branch(branch_id: str, visits: int, peak_slot_share: float, slot_s: float, mean_service_s: float) -> Staffing:
    """Staff one branch whose day has ``visits`` arrivals, ``peak_slot_share`` of them in
    the busiest slot of ``slot_s`` seconds, served in ``mean_service_s`` seconds on average."""
    rate = visits * peak_slot_share / slot_s
    load = rate * mean_service_s
    tellers = max(1, math.floor(load) + 1)
    pw = erlang_c(tellers, load)
    wait = pw * mean_service_s / (tellers - load) if load < tellers else math.inf
    return Staffing(branch_id, visits, rate * 3600, load, tellers, load / tellers, pw, wait)
