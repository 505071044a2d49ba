"""``python -m counterflow_selfservice``: the service command line."""

from counterflow_selfservice.cli import app

app()
