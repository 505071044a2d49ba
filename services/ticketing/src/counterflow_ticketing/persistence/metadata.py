"""The one SQLAlchemy metadata of the ticketing tables (with the backbone tables: outbox,
processed events, idempotency keys), in its own module so that every table module
imports it without importing the others (no cycle between ``tables`` and ``rules_tables``)."""

from __future__ import annotations

from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.tables import add_backbone_tables

Base = make_base()
metadata = Base.metadata
backbone = add_backbone_tables(metadata)
