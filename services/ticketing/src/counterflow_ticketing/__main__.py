"""``python -m counterflow_ticketing``: the service command line."""

from counterflow_ticketing.cli import app

app()
