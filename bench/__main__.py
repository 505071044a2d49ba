"""Run benchmarks: ``python -m bench`` (all) or ``python -m bench backbone rules``."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

from rich.console import Console

console = Console()


def discover() -> list[str]:
    """Names of benchmark modules (every bench/<name>.py with a ``run`` function)."""
    here = Path(__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in {"common", "__main__"} and not m.name.startswith("_")]
    return sorted(n for n in names if hasattr(importlib.import_module(f"bench.{n}"), "run"))


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all when none); exit code 1 if any failed."""
    names = argv or discover()
    failed = []
    for name in names:
        console.rule(f"benchmark {name}")
        started = time.perf_counter()
        try:
            result = importlib.import_module(f"bench.{name}").run()
            console.print_json(json.dumps(result, default=str))
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
            console.print_exception()
            failed.append(f"{name}: {exc!r}")
        console.print(f"[dim]{name} took {time.perf_counter() - started:.1f}s[/dim]")
    if failed:
        console.print("[red]failed:[/red] " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
