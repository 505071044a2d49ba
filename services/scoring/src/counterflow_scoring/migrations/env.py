"""Alembic environment of the scoring service."""

from counterflow_shared.persistence.migrations import run_env
from counterflow_scoring.persistence import tables  # noqa: F401 - registers every table

run_env(tables.metadata)
