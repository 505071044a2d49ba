"""Helpers shared by the benchmarks: result files, percentiles, machine description."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def figure(value: float, unit: str, *, baseline: float | None = None, baseline_name: str | None = None, target: str | None = None) -> dict[str, Any]:
    """One measured figure with its unit; ``baseline`` is the same quantity measured for
    ``baseline_name`` in the same run, ``ratio`` = value / baseline."""
    out: dict[str, Any] = {"value": value, "unit": unit}
    if baseline is not None:
        out["baseline"] = {"name": baseline_name, "value": baseline, "unit": unit}
        out["ratio"] = value / baseline if baseline else None
    if target:
        out["target"] = target
    return out


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation (numpy's default method)."""
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def write_result(name: str, figures: dict[str, Any], **context: Any) -> Path:
    """Write ``bench/results/<name>.json`` with the figures, the machine and the time."""
    RESULTS.mkdir(exist_ok=True)
    doc = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "figures": figures,
        **context,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path
