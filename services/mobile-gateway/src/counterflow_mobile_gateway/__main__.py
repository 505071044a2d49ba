"""``python -m counterflow_mobile_gateway``: the service command line."""

from counterflow_mobile_gateway.cli import app

app()
