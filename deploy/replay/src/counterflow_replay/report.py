"""``reports/latest/``: ``summary.json``, ``report.html`` (plots embedded as PNG) and the
terminal table. The report is written for a bank's operations head: a headline in words,
human labels (district names, minutes, percentages), walk-outs, hour-of-day views, the
wait distribution with its tail, funnels per channel and rule, a per-branch table with the
Erlang C prediction beside the measurement, and the assumptions; no local paths."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Template  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from counterflow_replay.driver import ScenarioLog  # noqa: E402
from counterflow_replay.metrics import hourly, per_branch  # noqa: E402

ORDER = ("no_diversion", "rules", "offer_all", "oracle")
LABELS = {"no_diversion": "No diversion", "rules": "Shipped rules", "offer_all": "Offer everyone", "oracle": "Divert everything (bound)"}
COLOURS = {"no_diversion": "#7f7f7f", "rules": "#1f77b4", "offer_all": "#ff7f0e", "oracle": "#2ca02c"}
#: (key, label, kind) of the table rows; kind formats the value.
ROWS = (
    ("arrivals", "Customers at the door", "n"),
    ("counter_visits", "Took a counter ticket", "n"),
    ("offered", "Offered a machine or the app", "n"),
    ("accepted", "Accepted the offer", "n"),
    ("completed", "Completed at the machine / in the app", "n"),
    ("abandoned", "Walked out before being called", "n"),
    ("counter_wait_mean_s", "Mean counter wait", "min"),
    ("wait_p90_s", "90 % waited less than", "min"),
    ("wait_max_s", "Longest wait", "min"),
    ("sla_share_10min", "Ticket holders called within 10 minutes", "pct"),
    ("vip_wait_mean_s", "Mean wait of VIP and private customers", "min"),
    ("teller_utilization", "Teller time spent serving", "pct"),
    ("teller_hours", "Teller hours spent serving", "h"),
    ("protected_offered", "Protected customers offered another channel", "n"),
)


def fmt(v: Any, kind: str) -> str:
    """A figure for people: minutes with one decimal, percentages, thousands separators;
    an en dash when there is no value."""
    if v is None:
        return "–"
    if kind == "min":
        return f"{v / 60:.1f} min"
    if kind == "pct":
        return f"{100 * v:.0f} %"
    if kind == "h":
        return f"{v:,.1f} h"
    return f"{v:,}"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _clock(h: int, opens: str) -> str:
    oh, om = (int(x) for x in opens.split(":"))
    return f"{oh + h:02d}:{om:02d}"


def plots(logs: dict[str, ScenarioLog], summary: dict[str, Any]) -> dict[str, str]:
    """Base64 PNGs: mean wait by hour, walk-outs by hour, wait CDF (log scale), funnels
    per channel and rule, the sweep (when ``summary['sweep']`` holds one)."""
    out: dict[str, str] = {}
    names = [n for n in ORDER if n in logs]
    opens = summary.get("replay", {}).get("call_centre_fit", {}).get("opens", "08:00")
    hours = {n: hourly(logs[n]) for n in names}
    all_h = sorted({h for n in names for h in hours[n]})
    ticks = [_clock(h, opens) for h in all_h]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for n in names:
        ax.plot(range(len(all_h)), [((hours[n].get(h) or {}).get("wait_mean_s") or 0) / 60 for h in all_h], marker="o", label=LABELS[n], color=COLOURS[n])
    ax.set_xticks(range(len(all_h)), ticks)
    ax.set_xlabel("hour the customer arrived")
    ax.set_ylabel("mean counter wait (minutes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out["hourly_wait"] = _png(fig)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        ax.bar([j + i * width for j in range(len(all_h))], [(hours[n].get(h) or {}).get("abandoned", 0) for h in all_h], width, label=LABELS[n], color=COLOURS[n])
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(all_h))], ticks)
    ax.set_xlabel("hour the customer arrived")
    ax.set_ylabel("customers who walked out")
    ax.legend(fontsize=8)
    out["hourly_walkouts"] = _png(fig)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for n in names:
        w = sorted(max(o.wait_s, 1.0) / 60 for o in logs[n].outcomes if o.wait_s is not None)
        if w:
            ax.step(w, [(i + 1) / len(w) for i in range(len(w))], where="post", label=LABELS[n], color=COLOURS[n])
    ax.set_xscale("log")
    ax.set_xlim(1 / 60, None)
    ax.set_xticks([1 / 60, 0.5, 1, 5, 10, 30, 60], ["1 s", "30 s", "1 min", "5 min", "10 min", "30 min", "1 h"])
    ax.axvline(10, color="k", lw=0.6, ls=":")
    ax.set_xlabel("wait from ticket to call (log scale; dotted: 10-minute service level)")
    ax.set_ylabel("share of called customers who waited at most this")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    out["cdf"] = _png(fig)
    rows = []
    for n in names:
        s = summary["scenarios"][n]
        for ch, f in s.get("by_channel", {}).items():
            rows.append((f"{LABELS[n]} · {CHANNELS.get(ch, ch)}", f))
        for rule, f in s.get("by_rule", {}).items():
            rows.append((f"{LABELS[n]} · rule {rule}", f))
    if rows:
        fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rows) + 1))
        y = list(range(len(rows)))[::-1]
        for k, (stage, colour) in enumerate((("offered", "#c6dbef"), ("accepted", "#6baed6"), ("completed", "#08519c"))):
            ax.barh([v + (1 - k) * 0.27 for v in y], [f[stage] for _, f in rows], 0.27, color=colour, label=stage)
        for v, (_, f) in zip(y, rows):
            if f.get("acceptance_rate") is not None:
                ax.text(f["offered"], v + 0.27, f"  {100 * f['acceptance_rate']:.0f} % accept", va="center", fontsize=7)
        ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
        ax.set_xlabel("customers")
        ax.legend(fontsize=8, loc="lower right")
        out["funnel"] = _png(fig)
    sweep = summary.get("sweep")
    if sweep:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
        for n in ORDER:
            pts = [(p["load"], p["scenarios"][n]) for p in sweep["points"] if n in p["scenarios"]]
            if pts:
                a1.plot([x for x, _ in pts], [(s["counter_wait_mean_s"] or 0) / 60 for _, s in pts], marker="o", label=LABELS[n], color=COLOURS[n])
                a2.plot([x for x, _ in pts], [s["abandoned"] for _, s in pts], marker="o", label=LABELS[n], color=COLOURS[n])
        a1.set_xlabel("load (x the real day)")
        a1.set_ylabel("mean counter wait (minutes)")
        a2.set_xlabel("load (x the real day)")
        a2.set_ylabel("customers who walked out")
        a1.legend(fontsize=7)
        out["sweep"] = _png(fig)
    return out


CHANNELS = {"atm": "ATM", "cash_recycler": "cash recycler", "kiosk": "kiosk", "mobile": "the app"}


def headline_text(s: dict[str, Any]) -> str:
    """The verdict in one or two sentences, from ``summary.json``."""
    sc, h = s["scenarios"], s.get("headline", {})
    nd, ru, oa = sc.get("no_diversion"), sc.get("rules"), sc.get("offer_all")
    if not nd or not ru:
        return "Run both no_diversion and rules for a verdict."
    parts = []
    peak = h.get("peak_hour_after_opening")
    opens = s.get("replay", {}).get("call_centre_fit", {}).get("opens", "08:00")
    pw = h.get("peak_hour_wait_mean_s") or {}
    if peak is not None and pw.get("no_diversion") is not None and pw.get("rules") is not None:
        parts.append(f"In the busiest hour ({_clock(peak, opens)}), the shipped rules took the mean counter wait from {fmt(pw['no_diversion'], 'min')} to {fmt(pw['rules'], 'min')}.")
    cut = h.get("wait_cut_share")
    parts.append(
        f"Over the day they cut the mean counter wait from {fmt(nd['counter_wait_mean_s'], 'min')} to {fmt(ru['counter_wait_mean_s'], 'min')}"
        + (f" ({100 * cut:.0f} %)" if cut is not None else "")
        + f" by moving {ru['diverted']:,} of {ru['arrivals']:,} customers to machines and the app; walk-outs went from {nd['abandoned']:,} to {ru['abandoned']:,}"
        + (f"; {h['teller_hours_freed']:.1f} teller-hours freed." if h.get("teller_hours_freed") is not None else ".")
    )
    if oa and h.get("cut_share_vs_offer_all") is not None:
        parts.append(
            f"Offering every routine visit a channel would cut it to {fmt(oa['counter_wait_mean_s'], 'min')}: the rules get {100 * h['cut_share_vs_offer_all']:.0f} % of that cut with {100 * (h.get('offers_share_vs_offer_all') or 0):.0f} % of its {oa['offered']:,} offers."
        )
    met = cut is not None and cut >= 0.40 and (h.get("cut_share_vs_offer_all") or 0) >= 0.8 and (h.get("offers_share_vs_offer_all") if h.get("offers_share_vs_offer_all") is not None else 1) <= 0.6
    parts.append("Target (cut ≥ 40 %, ≥ 80 % of offer-all's cut with ≤ 60 % of its offers): " + ("met." if met else "not met (see the caveats)."))
    prot = sum(x.get("protected_offered", 0) for x in sc.values())
    parts.append(f"Protected customers offered another channel: {prot}.")
    return " ".join(parts)


HTML = Template(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Counterflow: a congested branch day replayed</title>
<style>body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;color:#222;line-height:1.45}table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:14px}th:first-child,td:first-child{text-align:left}.headline{font-size:1.15em;background:#f3f7fb;border-left:4px solid #1f77b4;padding:.8em 1em}h2{margin-top:1.6em}small{color:#555}</style></head><body>
<h1>A congested branch day, replayed through Counterflow</h1>
<p class="headline">{{ headline }}</p>
<p><small>{{ s.data.branches }} branches of the PKDD'99 Czech bank, {{ s.data.visits_replayed | int }} customers per scenario: every counter visit of {{ s.data.window[0] }} to {{ s.data.window[1] }} ({{ s.data.days }} days) folded onto one business day, replayed in four scenarios on identical arrivals through the running services. Replay took {{ (s.wall_seconds / 60) | round(1) }} minutes.</small></p>
<h2>The four scenarios</h2>
<table><tr><th></th>{% for n in names %}<th>{{ labels[n] }}</th>{% endfor %}</tr>
{% for key, label, kind in rows %}<tr><td>{{ label }}</td>{% for n in names %}<td>{{ fmt(s.scenarios[n].get(key), kind) }}</td>{% endfor %}</tr>{% endfor %}</table>
<p><small>No diversion: every customer takes a ticket. Shipped rules: the bank's default rule set, activated through maker-checker. Offer everyone: every routine visit (cash, bill payments) of an unprotected customer is offered a machine or the app; customers accept as in the rules scenario (their propensity from scoring). Divert everything: every such visit goes to a machine or the app, the physical bound of the equipment. Offered / accepted / completed are ticketing's own accounting.</small></p>
<h2>When the queue builds: mean counter wait by hour</h2><img alt="mean wait by hour" src="data:image/png;base64,{{ p.hourly_wait }}">
<h2>Walk-outs by hour</h2><img alt="walk-outs by hour" src="data:image/png;base64,{{ p.hourly_walkouts }}">
<h2>How long people waited (the tail included)</h2><img alt="wait distribution" src="data:image/png;base64,{{ p.cdf }}">
{% if p.funnel %}<h2>Offers: per channel and per rule</h2><img alt="funnels" src="data:image/png;base64,{{ p.funnel }}">{% endif %}
{% if p.sweep %}<h2>What if more customers came (staffing fixed)</h2><img alt="sweep" src="data:image/png;base64,{{ p.sweep }}">{% endif %}
<h2>Per branch</h2>
<table><tr><th>Branch (district)</th><th>Tellers</th><th>Customers</th><th>Teller load</th><th>Predicted mean wait (Erlang C)</th>{% for n in names %}<th>{{ labels[n] }}: mean wait / walk-outs / diverted</th>{% endfor %}</tr>
{% for b in branches %}{% set st = s.replay.staffing[b] %}<tr><td>{{ s.branch_names.get(b, b) }}</td><td>{{ st.tellers }}</td><td>{{ pb[names[0]][b].arrivals }}</td><td>{{ (100 * st.mean_utilisation) | round | int }} %</td><td>{{ fmt(st.mean_wait_s, 'min') }}</td>{% for n in names %}<td>{{ fmt(pb[n][b].wait_mean_s, 'min') }} / {{ pb[n][b].abandoned }} / {{ pb[n][b].diverted }}</td>{% endfor %}</tr>{% endfor %}</table>
<p><small>Erlang C (M/M/c without abandonment) at the day's mean load; the measured waits include the busier hours and the customers who walked out.</small></p>
<h2>Assumptions and caveats</h2><ul>
{% for a in assumptions %}<li>{{ a }}</li>{% endfor %}
</ul></body></html>"""
)


def assumptions(s: dict[str, Any]) -> list[str]:
    """The assumptions and caveats section, with the figures of this run."""
    r = s.get("replay", {})
    cc = r.get("call_centre_fit", {})
    ps = cc.get("service_time", {}).get("PS", {})
    pat = r.get("walk_in_patience", {})
    d = s["data"]
    return [
        f"Customers: PKDD'99 Discovery Challenge financial data (Berka and Sochorová), a Czech bank. Routine visits are the cash deposits, cash withdrawals and cash bill payments of trans.asc; the business only a person can do is the accounts opened (account.asc), loans granted (loan.asc) and cards issued (card.asc) on those days. Service mix: {', '.join(f'{k} {v}' for k, v in d.get('visits_by_service_type', {}).items())}.",
        f"Volume: the data holds a sample of each branch's customers, so the {d['days']} days {d['window'][0]}..{d['window'][1]} are folded onto one day (each real visit once). The default window is the last complete month of the file.",
        f"Arrival times within the day and service times: fitted on the Anonymous Bank call centre (Technion, February 1999): log-normal service, mean {ps.get('mean_s')} s; teller speeds from its agents. A phone queue stands in for a branch counter.",
        "Account openings, loans and card hand-overs: the mean service times of ticketing's standard catalog (15, 30 and 7 minutes), not data.",
        f"Walk-in patience: Weibull (shape {pat.get('shape')}, mean {round((pat.get('mean_s') or 0) / 60, 1)} min) fitted on a {pat.get('source', 'survey')}. The survey says nothing beyond 10 minutes; the tail is the fit's.",
        f"Staffing: each branch has a fixed number of tellers for the day, the fewest that keep the day's mean offered load at or below {100 * r.get('utilisation_target', 0.75):.0f} % of teller time (the 75 % teller workforce-utilisation benchmark of the FMSI study of 1,000+ US branches, BAI). Peaks therefore congest.",
        "Protections: customers aged 65 or more on the day (from the birth numbers of client.asc; 65 is Eurostat's old-age threshold) state the 'elderly' need; VIP and private customers (scoring's tiers) are never offered another channel in any scenario. No data says who asks for a person, so nobody does here.",
        "Acceptance: a customer accepts an offer when a uniform draw (the same in every scenario) is below scoring's calibrated propensity for the channel. Accepted offers are done at once at the machine or in the app; only what the platform refuses expires.",
        "Equipment per branch (an assumption): one ATM, one cash recycler and one kiosk, cassettes half full. The app takes bill payments and transfers.",
        "The services run on the replay's simulated clock; Kafka-propagated state (device availability, branch load) may lag decisions by a few simulated seconds.",
    ]


def write(out_dir: Path, summary: dict[str, Any], logs: dict[str, ScenarioLog]) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``; returns their paths.
    A ``sweep.json`` found in ``out_dir`` is drawn in the report (and copied into the
    summary as ``sweep``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep = out_dir / "sweep.json"
    if sweep.is_file():
        summary["sweep"] = json.loads(sweep.read_text())
    sj = out_dir / "summary.json"
    sj.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    names = [n for n in ORDER if n in summary["scenarios"]]
    pb = {n: per_branch(logs[n]) for n in names}
    branches = list(next(iter(logs.values())).tellers) if logs else []
    html = HTML.render(s=summary, p=plots(logs, summary), names=names, rows=ROWS, labels=LABELS, fmt=fmt, headline=headline_text(summary), pb=pb, branches=branches, assumptions=assumptions(summary))
    rh = out_dir / "report.html"
    rh.write_text(html)
    return sj, rh


def table(summary: dict[str, Any], console: Console) -> None:
    """The terminal table of the scenarios and the headline."""
    names = [n for n in ORDER if n in summary["scenarios"]]
    t = Table(title=f"Counterflow replay: {summary['data']['branches']} branches, {summary['data'].get('visits_replayed')} arrivals per scenario")
    t.add_column("figure")
    for n in names:
        t.add_column(LABELS[n], justify="right")
    for key, label, kind in ROWS:
        t.add_row(label, *[fmt(summary["scenarios"][n].get(key), kind) for n in names])
    console.print(t)
    console.print(headline_text(summary))
    m = summary["estimate_mae_s"]
    console.print(f"wait estimate MAE: counterflow {m['counterflow']} s, naive {m['naive']} s   wall {summary['wall_seconds']} s")
