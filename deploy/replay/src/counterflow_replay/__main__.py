"""``python -m counterflow_replay``."""

from counterflow_replay.cli import app

app()
