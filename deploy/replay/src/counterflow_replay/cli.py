"""``python -m counterflow_replay run``: the main job's command line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from counterflow_replay import report
from counterflow_replay.platform import Endpoints, PlatformError
from counterflow_replay.replay import REPO_ROOT, SCENARIOS, Options, Progress as ReplayProgress, prepare_day, run
from counterflow_replay.environment import service_env
from counterflow_replay.staffing import parse_staffing
from datetime import date

app = typer.Typer(help="Counterflow main job: replay a real bank's branch traffic through the running platform", no_args_is_help=True)
console = Console()


class RichProgress(ReplayProgress):
    """One rich progress bar per phase."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.task = bar, None

    def phase(self, name: str, total: int) -> None:
        """A new bar."""
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)
        self.task = self.bar.add_task(name, total=total)

    def step(self, n: int = 1) -> None:
        """Advance the bar."""
        if self.task is not None:
            self.bar.advance(self.task, n)

    def done_of(self, done: int, total: int) -> None:
        """Set the bar."""
        if self.task is not None:
            self.bar.update(self.task, completed=done, total=max(1, total))


class LineProgress(ReplayProgress):
    """Progress as plain lines, for output that is not a terminal (a log file, CI): the
    start of each phase and every further tenth of it, each with the elapsed wall time."""

    def __init__(self, emit: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.emit, self.clock = emit, clock
        self.name, self.total, self.done, self.shown = "", 0, 0, -1
        self.started = clock()

    def phase(self, name: str, total: int) -> None:
        """A new phase: one line."""
        self.name, self.total, self.done, self.shown = name, max(1, total), 0, 0
        self.emit(f"[{self.clock() - self.started:6.0f} s] {name}: 0/{total}")

    def step(self, n: int = 1) -> None:
        """Advance; a line at each further tenth."""
        self.done_of(self.done + n, self.total)

    def done_of(self, done: int, total: int) -> None:
        """Set; a line at each further tenth."""
        self.done, self.total = done, max(1, total)
        tenth = min(10, 10 * done // self.total)
        if tenth > self.shown:
            self.shown = tenth
            self.emit(f"[{self.clock() - self.started:6.0f} s] {self.name}: {done}/{total}")


def parse_window(text: str | None) -> tuple[date, date] | None:
    """``--window FIRST:LAST`` (ISO dates, inclusive) -> ``(first, last)``; ``None`` keeps
    the default rule (the last complete month of trans.asc).

    Raises:
        typer.BadParameter: not two ISO dates, or LAST before FIRST.
    """
    if not text:
        return None
    try:
        a, b = (date.fromisoformat(x.strip()) for x in text.split(":"))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected FIRST:LAST as ISO dates, e.g. 1994-03-01:1994-03-31", param_hint="--window") from None
    if b < a:
        raise typer.BadParameter(f"{text!r}: LAST is before FIRST", param_hint="--window")
    return a, b


def _staffing(text: str | None) -> tuple[float, dict[str, int]]:
    try:
        return parse_staffing(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--staffing") from None


def _run_replay(opts: Options) -> tuple[dict, dict]:
    if console.is_terminal:
        with Progress(TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            return asyncio.run(run(opts, RichProgress(bar), log=console.print))
    return asyncio.run(run(opts, LineProgress(console.print), log=console.print))


@app.command("run")
def run_command(
    data: Path = typer.Option(REPO_ROOT.parent / "shared/data/berka", "--data", help="folder of the PKDD'99 *.asc files"),
    queue_data: Path = typer.Option(REPO_ROOT.parent / "shared/data/anonymous_bank", "--queue-data", help="folder of the Anonymous Bank calls_*.tsv"),
    branches: int = typer.Option(12, help="replay the N busiest branches (0 = all 77)"),
    hours: float = typer.Option(0.0, help="replay only the first H hours of the day (0 = the whole day)"),
    speed: float = typer.Option(0.0, help="wall pacing: at most this many simulated seconds per wall second (0 = as fast as the platform and the lag gate allow)"),
    gate: bool = typer.Option(True, help="advance the simulated clock only once the services' consumers have caught up (consumer-group lag 0)"),
    seed: int = typer.Option(1999),
    window: str = typer.Option(None, help="FIRST:LAST (ISO dates): the days of the data folded onto the replayed day (default: the last complete month of trans.asc)"),
    staffing: str = typer.Option(None, help="tellers: a factor on the sized staffing (1.2), a per-branch table (D1=5,D74=2), or both"),
    scenario: list[str] = typer.Option(list(SCENARIOS), help="scenarios to run, in order"),
    out: Path = typer.Option(REPO_ROOT / "reports/latest", help="where summary.json and report.html go"),
    ticketing: str = typer.Option("http://127.0.0.1:8101"),
    selfservice: str = typer.Option("http://127.0.0.1:8102"),
    mobile: str = typer.Option("http://127.0.0.1:8103"),
    scoring: str = typer.Option("http://127.0.0.1:8104"),
    skip_import: bool = typer.Option(False, help="the book is already imported into scoring"),
    topic_prefix: str = typer.Option(None, help="topic prefix of the services (default CF_TOPIC_PREFIX)"),
) -> None:
    """Replay the day: import, set up, run the scenarios, write reports/latest/."""
    bad = [s for s in scenario if s not in SCENARIOS]
    if bad:
        raise typer.BadParameter(f"unknown scenario {bad}; choose from {SCENARIOS}", param_hint="--scenario")
    factor, table = _staffing(staffing)
    opts = Options(data=data, queue_data=queue_data, branches=branches or None, hours=hours or None, speed=speed or None, seed=seed, scenarios=tuple(scenario), endpoints=Endpoints(ticketing, selfservice, mobile, scoring), import_book=not skip_import, window=parse_window(window), staffing_factor=factor, staffing_table=table, gate=gate)
    if topic_prefix is not None:
        opts.topic_prefix = topic_prefix
    try:
        summary, logs = _run_replay(opts)
    except (PlatformError, FileNotFoundError, ValueError, TimeoutError) as exc:
        console.print(f"[red]replay failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    report.table(summary, console)
    sj, rh = report.write(out, summary, logs)
    console.print(f"wrote {sj} and {rh}")


@app.command("sweep")
def sweep_command(
    load: str = typer.Option("0.8,1.0,1.25,1.5", help="load levels: arrivals resampled at each level (x the real day), staffing fixed at level 1"),
    data: Path = typer.Option(REPO_ROOT.parent / "shared/data/berka", "--data"),
    queue_data: Path = typer.Option(REPO_ROOT.parent / "shared/data/anonymous_bank", "--queue-data"),
    branches: int = typer.Option(12),
    hours: float = typer.Option(0.0),
    speed: float = typer.Option(0.0),
    seed: int = typer.Option(1999),
    window: str = typer.Option(None),
    staffing: str = typer.Option(None),
    scenario: list[str] = typer.Option(list(SCENARIOS)),
    out: Path = typer.Option(REPO_ROOT / "reports/latest"),
    skip_import: bool = typer.Option(False),
    topic_prefix: str = typer.Option(None),
) -> None:
    """What-if: counter wait and walk-outs against load for every scenario; writes
    ``sweep.json`` beside summary.json (the report draws it when present)."""
    try:
        levels = [float(x) for x in load.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{load!r}: comma-separated numbers", param_hint="--load") from None
    if not levels or min(levels) <= 0:
        raise typer.BadParameter("levels must be positive", param_hint="--load")
    factor, table = _staffing(staffing)
    points = []
    for i, level in enumerate(levels):
        opts = Options(data=data, queue_data=queue_data, branches=branches or None, hours=hours or None, speed=speed or None, seed=seed, scenarios=tuple(scenario), import_book=not skip_import and i == 0, window=parse_window(window), staffing_factor=factor, staffing_table=table, load=level, day_offset_days=35 * (i + 1))
        if topic_prefix is not None:
            opts.topic_prefix = topic_prefix
        console.print(f"load x{level}")
        try:
            summary, _ = _run_replay(opts)
        except (PlatformError, FileNotFoundError, ValueError, TimeoutError) as exc:
            console.print(f"[red]sweep failed at load {level}:[/red] {exc}")
            raise typer.Exit(1) from exc
        points.append({"load": level, "arrivals": summary["data"]["visits_replayed"], "scenarios": {n: {k: s.get(k) for k in ("counter_wait_mean_s", "abandoned", "offered", "diverted", "arrivals")} for n, s in summary["scenarios"].items()}})
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"levels": levels, "points": points}, indent=2) + "\n")
    console.print(f"wrote {out / 'sweep.json'}")


@app.command("plan")
def plan_command(
    data: Path = typer.Option(REPO_ROOT.parent / "shared/data/berka", "--data"),
    queue_data: Path = typer.Option(REPO_ROOT.parent / "shared/data/anonymous_bank", "--queue-data"),
    branches: int = typer.Option(12),
    hours: float = typer.Option(0.0),
    window: str = typer.Option(None),
    staffing: str = typer.Option(None),
) -> None:
    """Print the day (window, staffing, fits) without touching the platform."""
    factor, table = _staffing(staffing)
    day, fit, _ = prepare_day(Options(data=data, queue_data=queue_data, branches=branches or None, hours=hours or None, window=parse_window(window), staffing_factor=factor, staffing_table=table))
    print(json.dumps({"data": day.data, "call_centre_fit": fit.summary(), **day.describe()}, indent=1, default=str))


@app.command("service-env")
def service_env_command(topic_prefix: str = typer.Option(None, help="topic prefix of the services (default CF_TOPIC_PREFIX)")) -> None:
    """Print ``export NAME=value`` lines of the services' replay settings (simulated
    clock, background-loop polling)."""
    prefix = topic_prefix if topic_prefix is not None else Options().topic_prefix
    for k, v in service_env(prefix).items():
        sys.stdout.write(f"export {k}={v}\n")


if __name__ == "__main__":
    app()
