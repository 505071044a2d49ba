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


@app.command("run")
def run_command(
    data: Path = typer.Option(REPO_ROOT.parent / "shared/data/berka", "--data", help="folder of the PKDD'99 *.asc files"),
    queue_data: Path = typer.Option(REPO_ROOT.parent / "shared/data/anonymous_bank", "--queue-data", help="folder of the Anonymous Bank calls_*.tsv"),
    branches: int = typer.Option(12, help="replay the N busiest branches (0 = all 77)"),
    hours: float = typer.Option(0.0, help="replay only the first H hours of the day (0 = the whole day)"),
    speed: float = typer.Option(120.0, help="wall pacing: at most this many simulated seconds per wall second (0 = as fast as the platform answers)"),
    seed: int = typer.Option(1999),
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
    opts = Options(data=data, queue_data=queue_data, branches=branches or None, hours=hours or None, speed=speed or None, seed=seed, scenarios=tuple(scenario), endpoints=Endpoints(ticketing, selfservice, mobile, scoring), import_book=not skip_import)
    if topic_prefix is not None:
        opts.topic_prefix = topic_prefix
    try:
        if console.is_terminal:
            with Progress(TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
                summary, logs = asyncio.run(run(opts, RichProgress(bar), log=console.print))
        else:
            summary, logs = asyncio.run(run(opts, LineProgress(console.print), log=console.print))
    except (PlatformError, FileNotFoundError, ValueError, TimeoutError) as exc:
        console.print(f"[red]replay failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    report.table(summary, console)
    sj, rh = report.write(out, summary, logs)
    console.print(f"wrote {sj} and {rh}")


@app.command("plan")
def plan_command(
    data: Path = typer.Option(REPO_ROOT.parent / "shared/data/berka", "--data"),
    queue_data: Path = typer.Option(REPO_ROOT.parent / "shared/data/anonymous_bank", "--queue-data"),
    branches: int = typer.Option(12),
    hours: float = typer.Option(0.0),
) -> None:
    """Print the day (window, staffing, fits) without touching the platform."""
    day, fit, _ = prepare_day(Options(data=data, queue_data=queue_data, branches=branches or None, hours=hours or None))
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
