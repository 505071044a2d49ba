"""The figures of ``summary.json`` from the scenario logs (names documented in README.md).

Definitions (all times simulated seconds):

- ``arrivals``: visits that came to the branch door; ``counter_visits``: visits that took a
  ticket (directly or after declining an offer), abandoned ones included;
- ``offered`` / ``accepted`` / ``completed``: diversion offers, accepted offers, accepted
  offers completed at the device or in the app;
- ``wait_*``: from ticket to call, over ticket holders who were called (abandoned waits are
  censored and left out; ``sla_share_10min`` counts them as misses);
- ``sla_share_10min``: share of ticket holders called within 600 s (the SLA of ticketing's
  default settings);
- ``vip_wait_mean_s``: mean wait of ticket holders whose tier is ``vip`` or ``private``;
- ``teller_utilization``: teller busy time / (tellers x length of the day, the last
  departure when later than closing);
- ``estimate_mae_s``: mean absolute error of the wait announced on the ticket against the
  wait that happened, over called ticket holders of all scenarios: ``counterflow`` is
  ticketing's ``estimated_wait_s`` (scaled back to simulated seconds), ``naive`` is the
  wait of the last customer called at the branch before the ticket was issued (the
  "last-to-enter-service" predictor; Ibrahim and Whitt, Operations Research 57 (2009)).
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean
from typing import Any

from counterflow_replay.driver import ENDS, ScenarioLog, percentile

SLA_S = 600.0
HIGH_TIERS = ("vip", "private")


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def scenario_summary(log: ScenarioLog, profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``scenarios.<name>`` block of ``summary.json`` plus ``ends`` (count per end)."""
    out = log.outcomes
    ticketed = [o for o in out if o.ticket_id is not None]
    waits = [o.wait_s for o in ticketed if o.wait_s is not None]
    vip = [o.wait_s for o in ticketed if o.wait_s is not None and profiles.get(o.visit.customer_id, {}).get("tier") in HIGH_TIERS]
    capacity = sum(log.tellers.values()) * log.end_s
    ends = Counter(o.end for o in out)
    return {
        "arrivals": len(out),
        "counter_visits": len(ticketed),
        "offered": sum(o.offered for o in out),
        "accepted": sum(o.accepted for o in out),
        "completed": ends.get("diverted_completed", 0),
        "wait_mean_s": _r(fmean(waits) if waits else None),
        "wait_p90_s": _r(percentile(waits, 0.9)),
        "wait_max_s": _r(max(waits) if waits else None),
        "sla_share_10min": _r(sum(w <= SLA_S for w in waits) / len(ticketed) if ticketed else None, 4),
        "vip_wait_mean_s": _r(fmean(vip) if vip else None),
        "teller_utilization": _r(sum(log.busy_s.values()) / capacity if capacity else None, 4),
        "ends": {e: ends.get(e, 0) for e in (*ENDS, "error")},
        "wall_seconds": round(log.wall_s, 1),
        "http_calls": log.http_calls,
        "day": log.origin.isoformat(),
        "clock_advances": log.clock_advances,
    }


def estimate_mae(logs: list[ScenarioLog]) -> dict[str, float | None]:
    """``estimate_mae_s``: ``counterflow`` and ``naive`` over called ticket holders."""
    pairs = [(o.estimate_s, o.naive_estimate_s, o.wait_s) for log in logs for o in log.outcomes if o.wait_s is not None]
    cf = [abs(e - w) for e, _, w in pairs if e is not None]
    nv = [abs(n - w) for _, n, w in pairs if n is not None]
    return {"counterflow": _r(fmean(cf) if cf else None), "naive": _r(fmean(nv) if nv else None), "n": len(pairs)}


def queue_length(log: ScenarioLog, step_s: float = 300.0) -> tuple[list[float], list[int]]:
    """Tickets waiting (all replayed branches) sampled every ``step_s`` simulated seconds."""
    events = []
    for o in log.outcomes:
        if o.issued_s is not None:
            events.append((o.issued_s, 1))
            gone = o.called_s if o.called_s is not None else o.left_s
            if gone is not None:
                events.append((gone, -1))
    events.sort()
    times, values, level, i = [], [], 0, 0
    t = 0.0
    while t <= log.end_s:
        while i < len(events) and events[i][0] <= t:
            level += events[i][1]
            i += 1
        times.append(t)
        values.append(level)
        t += step_s
    return times, values


def per_branch(log: ScenarioLog) -> dict[str, dict[str, Any]]:
    """Per branch: arrivals, counter visits, mean wait (s), diverted and completed."""
    rows: dict[str, dict[str, Any]] = {}
    for b in log.tellers:
        mine = [o for o in log.outcomes if o.visit.branch_id == b]
        waits = [o.wait_s for o in mine if o.wait_s is not None]
        rows[b] = {
            "arrivals": len(mine),
            "counter_visits": sum(o.ticket_id is not None for o in mine),
            "wait_mean_s": _r(fmean(waits) if waits else None),
            "completed": sum(o.end == "diverted_completed" for o in mine),
            "tellers": log.tellers[b],
        }
    return rows
