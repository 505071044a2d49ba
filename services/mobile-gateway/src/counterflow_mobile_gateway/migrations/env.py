"""Alembic environment of the mobile-gateway service."""

from counterflow_shared.persistence.migrations import run_env
from counterflow_mobile_gateway.persistence import tables  # noqa: F401 - registers every table

run_env(tables.metadata)
