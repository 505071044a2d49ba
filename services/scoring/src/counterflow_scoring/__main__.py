"""``python -m counterflow_scoring``: the service command line."""

from counterflow_scoring.cli import app

app()
