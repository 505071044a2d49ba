"""``reports/latest/``: ``summary.json``, ``report.html`` (plots embedded as PNG) and the
terminal table."""

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
from counterflow_replay.metrics import per_branch, queue_length  # noqa: E402

ORDER = ("no_diversion", "rules", "oracle")
ROWS = ("arrivals", "counter_visits", "offered", "accepted", "completed", "wait_mean_s", "wait_p90_s", "wait_max_s", "sla_share_10min", "vip_wait_mean_s", "teller_utilization")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plots(logs: dict[str, ScenarioLog], summary: dict[str, Any]) -> dict[str, str]:
    """Base64 PNGs: queue length over the day, wait distributions, diversion funnel,
    per-branch comparison."""
    out = {}
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name in ORDER:
        if name in logs:
            t, q = queue_length(logs[name])
            ax.step([x / 3600 for x in t], q, where="post", label=name)
    ax.set_xlabel("hours after opening (simulated)")
    ax.set_ylabel("tickets waiting (all branches)")
    ax.legend()
    out["queue"] = _png(fig)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name in ORDER:
        if name in logs:
            w = [o.wait_s / 60 for o in logs[name].outcomes if o.wait_s is not None]
            if w:
                ax.hist(w, bins=40, histtype="step", label=name)
    ax.set_xlabel("wait from ticket to call (minutes)")
    ax.set_ylabel("customers")
    ax.legend()
    out["waits"] = _png(fig)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    stages = ("offered", "accepted", "completed")
    names = [n for n in ORDER if n in summary["scenarios"]]
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        ax.bar([j + i * width for j in range(3)], [summary["scenarios"][name][s] for s in stages], width, label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(3)], stages)
    ax.set_ylabel("visits")
    ax.legend()
    out["funnel"] = _png(fig)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    branches = list(next(iter(logs.values())).tellers)
    for i, name in enumerate(names):
        pb = per_branch(logs[name])
        ax.bar([j + i * width for j in range(len(branches))], [(pb[b]["wait_mean_s"] or 0) / 60 for b in branches], width, label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(branches))], branches, rotation=60, fontsize=7)
    ax.set_ylabel("mean wait (minutes)")
    ax.legend()
    out["branches"] = _png(fig)
    return out


HTML = Template(
    """<!doctype html><html><head><meta charset="utf-8"><title>Counterflow replay</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>
<h1>Counterflow replay: PKDD'99 branch traffic through the running platform</h1>
<p>Data: {{ s.data.source }} &mdash; {{ s.data.customers }} customers, {{ s.data.accounts }} accounts, {{ s.data.branches }} branches replayed,
{{ s.data.transactions_read }} transactions read, {{ s.data.days }} days ({{ s.data.window[0] }}..{{ s.data.window[1] }}) folded onto one day; virtual clock (request latency costs no simulated time), pace at most x{{ s.replay.speed }}; wall {{ s.wall_seconds }} s.</p>
<table><tr><th>figure</th>{% for n in names %}<th>{{ n }}</th>{% endfor %}</tr>
{% for r in rows %}<tr><td>{{ r }}</td>{% for n in names %}<td>{{ s.scenarios[n][r] }}</td>{% endfor %}</tr>{% endfor %}</table>
<p>Wait estimate MAE (s): Counterflow {{ s.estimate_mae_s.counterflow }}, naive {{ s.estimate_mae_s.naive }}.</p>
<h2>Queue length over the day</h2><img src="data:image/png;base64,{{ p.queue }}">
<h2>Wait distributions</h2><img src="data:image/png;base64,{{ p.waits }}">
<h2>Diversion funnel</h2><img src="data:image/png;base64,{{ p.funnel }}">
<h2>Per branch</h2><img src="data:image/png;base64,{{ p.branches }}">
<h2>How the day was built</h2><pre>{{ day }}</pre>
</body></html>"""
)


def write(out_dir: Path, summary: dict[str, Any], logs: dict[str, ScenarioLog]) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sj = out_dir / "summary.json"
    sj.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    names = [n for n in ORDER if n in summary["scenarios"]]
    html = HTML.render(s=summary, p=plots(logs, summary), names=names, rows=ROWS, day=json.dumps(summary.get("replay", {}), indent=1, default=str))
    rh = out_dir / "report.html"
    rh.write_text(html)
    return sj, rh


def table(summary: dict[str, Any], console: Console) -> None:
    """The terminal table of the scenarios."""
    names = [n for n in ORDER if n in summary["scenarios"]]
    t = Table(title=f"Counterflow replay: {summary['data']['branches']} branches, {summary['data'].get('visits_replayed')} arrivals per scenario")
    t.add_column("figure")
    for n in names:
        t.add_column(n, justify="right")
    for r in ROWS:
        t.add_row(r, *[str(summary["scenarios"][n][r]) for n in names])
    console.print(t)
    m = summary["estimate_mae_s"]
    console.print(f"wait estimate MAE: counterflow {m['counterflow']} s, naive {m['naive']} s   wall {summary['wall_seconds']} s")
