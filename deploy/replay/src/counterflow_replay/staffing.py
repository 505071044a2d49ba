"""Tellers per branch as banks staff them: sized on the day's MEAN offered load at a
utilisation target, then fixed for the day (Erlang C, M/M/c, for the prediction).

``c = max(1, ceil(factor * a_mean / UTILISATION_TARGET))`` where ``a_mean = lambda_mean *
E[S]`` is the day's mean offered load in Erlangs (arrivals of the day times their mean
service time, over the opening hours) and ``factor`` the ``--staffing`` multiplier (1 by
default; a per-branch table overrides it). The peak of the day then runs above the
staffed capacity, as it does in real branches, which is the situation diversion is for.

:data:`UTILISATION_TARGET` = 0.75: the teller "workforce utilisation" benchmark (share of
paid teller time spent on customer transactions) of the FMSI Teller Workforce Utilization
Study of more than 1,000 US branches (BAI Banking Strategies, "Strategies for optimal
teller scheduling"; worst branches measured at 64 %, benchmark 75 %, the rest of the time
going to balancing, opening and closing).

Erlang C (A. K. Erlang, 1917; e.g. Gross & Harris, "Fundamentals of Queueing Theory",
section 2.3) gives the probability of waiting and the mean wait reported beside what the
replay measured, at the day's mean load and hour by hour (the stationary independent
period-by-period approximation, Green, Kolesar and Soares, Operations Research 49 (2001)).
Erlang C has no abandonment: where the load exceeds the tellers it predicts no finite wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Target share of teller time spent serving (FMSI / BAI benchmark, see the module docstring).
UTILISATION_TARGET = 0.75


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


def erlang_c_wait_s(servers: int, load: float, mean_service_s: float) -> float | None:
    """Erlang C mean wait (seconds) of all arrivals; ``None`` when ``load >= servers``."""
    if load >= servers:
        return None
    return erlang_c(servers, load) * mean_service_s / (servers - load)


@dataclass(frozen=True)
class Staffing:
    """The staffing of one branch.

    Attributes:
        branch_id: ``D<district>``.
        visits: counter visits of the day (all of them, divertible or not).
        mean_load: the day's mean offered load (Erlangs).
        tellers: tellers staffed for the whole day.
        mean_utilisation: ``mean_load / tellers`` (0..1).
        mean_wait_probability / mean_wait_s: Erlang C at the mean load (``None``: unstable).
        peak_rate_per_h / peak_load / peak_utilisation: the busiest profile slot.
        peak_mean_wait_s: Erlang C at the peak (``None`` when the peak exceeds the tellers).
        factor: the staffing multiplier applied (``None`` when a table set the tellers).
    """

    branch_id: str
    visits: int
    mean_load: float
    tellers: int
    mean_utilisation: float
    mean_wait_probability: float
    mean_wait_s: float | None
    peak_rate_per_h: float
    peak_load: float
    peak_utilisation: float
    peak_mean_wait_s: float | None
    factor: float | None = 1.0


def staff_branch(branch_id: str, visits: int, work_s: float, day_s: float, peak_slot_share: float, slot_s: float, *, factor: float = 1.0, tellers: int | None = None, target: float = UTILISATION_TARGET) -> Staffing:
    """Staff one branch whose day has ``visits`` arrivals bringing ``work_s`` seconds of
    expected service in total over ``day_s`` seconds, ``peak_slot_share`` of the arrivals
    in the busiest slot of ``slot_s`` seconds. ``tellers`` (a table entry) overrides the
    sizing; ``factor`` multiplies the load the sizing uses.

    Raises:
        ValueError: ``factor <= 0``, ``tellers < 1`` or ``day_s <= 0``.
    """
    if factor <= 0 or day_s <= 0 or (tellers is not None and tellers < 1):
        raise ValueError("factor and day_s must be positive, tellers at least 1")
    mean_load = work_s / day_s
    c = tellers if tellers is not None else max(1, math.ceil(factor * mean_load / target - 1e-9))
    mean_service = work_s / visits if visits else 0.0
    rate = visits * peak_slot_share / slot_s
    peak_load = rate * mean_service
    return Staffing(
        branch_id, visits, mean_load, c, mean_load / c, erlang_c(c, mean_load), erlang_c_wait_s(c, mean_load, mean_service),
        rate * 3600, peak_load, peak_load / c, erlang_c_wait_s(c, peak_load, mean_service), None if tellers is not None else factor,
    )


def parse_staffing(text: str | None) -> tuple[float, dict[str, int]]:
    """``--staffing``: a factor (``"1.2"``) or a per-branch table (``"D1=5,D74=2"``), or
    both (``"1.2,D1=5"``). Returns ``(factor, table)``.

    Raises:
        ValueError: an entry that is neither (the message names it).
    """
    factor, table = 1.0, {}
    for part in (p.strip() for p in (text or "").split(",") if p.strip()):
        if "=" in part:
            b, _, n = part.partition("=")
            if not n.strip().isdigit() or int(n) < 1:
                raise ValueError(f"--staffing {part!r}: tellers must be a whole number >= 1")
            table[b.strip()] = int(n)
        else:
            try:
                factor = float(part)
            except ValueError:
                raise ValueError(f"--staffing {part!r}: neither a factor nor BRANCH=TELLERS") from None
            if factor <= 0:
                raise ValueError(f"--staffing {part!r}: the factor must be positive")
    return factor, table
