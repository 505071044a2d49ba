"""The figures of ``summary.json`` from the scenario logs (names documented in README.md).

Definitions (all times simulated seconds):

- ``arrivals``: visits that came to the branch door; ``counter_visits``: visits that took a
  ticket (directly or after declining an offer), abandoned ones included;
- ``offered`` / ``accepted`` / ``completed`` / ``expired``: ticketing's own diversion
  accounting (``GET /v1/rules/completion-rates`` over the scenario's day, summed over
  rules and branches): offers made, offers accepted, accepted offers completed at the
  device or in the app, accepted offers that expired; ``client_counts`` holds the same
  four as the replay's customers saw them (they must agree);
- ``abandoned``: ticket holders who walked out before being called;
- ``diverted``: customers who accepted another channel (left the counter queue);
- ``protected_offered``: offers made to a protected customer (``elderly`` or
  ``asks_for_person`` need, ``vip`` or ``private`` tier); must be 0;
- ``counter_wait_mean_s``: the same as ``wait_mean_s``;
- ``by_rule`` / ``by_channel``: the funnels (offered, accepted, completed, acceptance rate);
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


def protected(o: Any, profiles: dict[str, dict[str, Any]]) -> bool:
    """Whether the visit's customer may never be offered another channel."""
    return bool(set(o.visit.needs) & {"elderly", "asks_for_person"}) or profiles.get(o.visit.customer_id, {}).get("tier") in HIGH_TIERS


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def funnels(accounting: list[dict[str, Any]], log: ScenarioLog) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(by_rule, by_channel)``: offered, accepted, completed, expired and acceptance
    rate per rule (ticketing's accounting) and per channel (the offers the customers saw)."""
    rules: dict[str, Counter] = {}
    for row in accounting:
        c = rules.setdefault(row["rule_id"], Counter())
        for k in ("offered", "accepted", "completed", "expired"):
            c[k] += int(row[k])
    by_rule = {r: {**dict(c), "acceptance_rate": _rate(c["accepted"], c["offered"])} for r, c in sorted(rules.items())}
    chans: dict[str, Counter] = {}
    for o in log.outcomes:
        if o.offered:
            c = chans.setdefault(o.channel or "?", Counter())
            c["offered"] += 1
            c["accepted"] += o.accepted
            c["completed"] += o.end == "diverted_completed"
            c["expired"] += o.end == "diverted_expired"
    by_channel = {k: {"offered": c["offered"], "accepted": c["accepted"], "completed": c["completed"], "expired": c["expired"], "acceptance_rate": _rate(c["accepted"], c["offered"])} for k, c in sorted(chans.items())}
    return by_rule, by_channel


def scenario_summary(log: ScenarioLog, profiles: dict[str, dict[str, Any]], accounting: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``scenarios.<name>`` block of ``summary.json`` plus ``ends`` (count per end).

    ``accounting``: ticketing's completion-rate rows of the scenario's day (``None``: the
    replay's own counts stand in, for tests without the platform)."""
    out = log.outcomes
    ticketed = [o for o in out if o.ticket_id is not None]
    waits = [o.wait_s for o in ticketed if o.wait_s is not None]
    vip = [o.wait_s for o in ticketed if o.wait_s is not None and profiles.get(o.visit.customer_id, {}).get("tier") in HIGH_TIERS]
    capacity = sum(log.tellers.values()) * log.end_s
    ends = Counter(o.end for o in out)
    client = {"offered": sum(o.offered for o in out), "accepted": sum(o.accepted for o in out), "completed": ends.get("diverted_completed", 0), "expired": ends.get("diverted_expired", 0)}
    platform = {k: sum(int(r[k]) for r in accounting) for k in client} if accounting is not None else dict(client)
    by_rule, by_channel = funnels(accounting or [], log)
    wait_mean = _r(fmean(waits) if waits else None)
    return {
        "arrivals": len(out),
        "divertible_arrivals": sum(o.visit.divertible for o in out),
        "counter_visits": len(ticketed),
        **platform,
        "client_counts": client,
        "accounting_source": "ticketing /v1/rules/completion-rates" if accounting is not None else "replay",
        "diverted": ends.get("diverted_completed", 0) + ends.get("diverted_expired", 0),
        "abandoned": ends.get("abandoned", 0),
        "served": ends.get("served", 0),
        "protected_offered": sum(o.offered and protected(o, profiles) for o in out),
        "protected_arrivals": sum(protected(o, profiles) for o in out),
        "counter_wait_mean_s": wait_mean,
        "wait_mean_s": wait_mean,
        "wait_p90_s": _r(percentile(waits, 0.9)),
        "wait_max_s": _r(max(waits) if waits else None),
        "sla_share_10min": _r(sum(w <= SLA_S for w in waits) / len(ticketed) if ticketed else None, 4),
        "vip_wait_mean_s": _r(fmean(vip) if vip else None),
        "teller_utilization": _r(sum(log.busy_s.values()) / capacity if capacity else None, 4),
        "teller_hours": _r(sum(log.busy_s.values()) / 3600, 2),
        "by_rule": by_rule,
        "by_channel": by_channel,
        "ends": {e: ends.get(e, 0) for e in (*ENDS, "error")},
        "wall_seconds": round(log.wall_s, 1),
        "http_calls": log.http_calls,
        "day": log.origin.isoformat(),
        "clock_advances": log.clock_advances,
    }


def hourly(log: ScenarioLog) -> dict[int, dict[str, Any]]:
    """Per hour after opening (by arrival): arrivals, mean wait of called ticket holders
    (s), walk-outs and diverted."""
    rows: dict[int, dict[str, Any]] = {}
    for o in log.outcomes:
        h = int(o.visit.arrival_s // 3600)
        r = rows.setdefault(h, {"arrivals": 0, "waits": [], "abandoned": 0, "diverted": 0})
        r["arrivals"] += 1
        if o.wait_s is not None:
            r["waits"].append(o.wait_s)
        r["abandoned"] += o.end == "abandoned"
        r["diverted"] += o.end in ("diverted_completed", "diverted_expired")
    return {h: {"arrivals": r["arrivals"], "wait_mean_s": _r(fmean(r["waits"]) if r["waits"] else None), "abandoned": r["abandoned"], "diverted": r["diverted"]} for h, r in sorted(rows.items())}


def headline(scenarios: dict[str, dict[str, Any]], logs: dict[str, ScenarioLog]) -> dict[str, Any]:
    """The ``headline`` block: ``wait_cut_share`` (1 - rules / no_diversion mean counter
    wait), ``cut_share_vs_offer_all`` (rules' cut / offer_all's cut),
    ``offers_share_vs_offer_all`` (rules' offers / offer_all's offers),
    ``walkouts_no_diversion``, ``walkouts_rules``, ``teller_hours_freed`` (no_diversion
    minus rules) and the peak hour's mean waits; ``None`` where a scenario is missing or
    a ratio has no denominator."""
    nd, ru, oa = (scenarios.get(n) for n in ("no_diversion", "rules", "offer_all"))

    def w(s: dict[str, Any] | None) -> float | None:
        return None if s is None else s.get("counter_wait_mean_s")

    cut = lambda s: None if w(nd) in (None, 0) or w(s) is None else 1 - w(s) / w(nd)  # noqa: E731
    out: dict[str, Any] = {
        "wait_cut_share": _r(cut(ru), 4),
        "cut_share_vs_offer_all": _r(cut(ru) / cut(oa), 4) if cut(ru) is not None and cut(oa) not in (None, 0) else None,
        "offers_share_vs_offer_all": _r(ru["offered"] / oa["offered"], 4) if ru and oa and oa["offered"] else None,
        "walkouts_no_diversion": nd["abandoned"] if nd else None,
        "walkouts_rules": ru["abandoned"] if ru else None,
        "teller_hours_freed": _r(nd["teller_hours"] - ru["teller_hours"], 2) if nd and ru else None,
    }
    if "no_diversion" in logs:
        hours = hourly(logs["no_diversion"])
        peak = max((h for h in hours if hours[h]["wait_mean_s"] is not None), key=lambda h: hours[h]["wait_mean_s"], default=None)
        out["peak_hour_after_opening"] = peak
        if peak is not None:
            out["peak_hour_wait_mean_s"] = {n: hourly(scenario).get(peak, {}).get("wait_mean_s") for n, scenario in logs.items()}
    return out


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
            "diverted": sum(o.end in ("diverted_completed", "diverted_expired") for o in mine),
            "abandoned": sum(o.end == "abandoned" for o in mine),
            "tellers": log.tellers[b],
        }
    return rows
