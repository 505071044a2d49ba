"""Alembic environment of the probe."""

from counterflow_shared.persistence.migrations import run_env
from probe.app import metadata

run_env(metadata)
