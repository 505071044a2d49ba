"""Tables of the selfservice service. The backbone tables (outbox, processed events,
idempotency keys) are added to the same metadata so migrations cover them.

Amounts are ``NUMERIC(20, 4)`` (:data:`counterflow_shared.money.MONEY_COLUMN`) in major currency units; times are ``timestamptz`` (UTC).
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
)

from counterflow_shared.money import MONEY_COLUMN

from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.tables import add_backbone_tables

Base = make_base()
metadata = Base.metadata
backbone = add_backbone_tables(metadata)

MONEY = MONEY_COLUMN

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("branch_id", String(64), nullable=False, index=True),
    Column("zone", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("accessible", Boolean, nullable=False, default=False),
    Column("capabilities", JSON, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("opening_hours", JSON, nullable=True),
    Column("typical_withdrawal", MONEY, nullable=True),
    Column("secret_hash", String(200), nullable=False),
    Column("reported_status", String(32), nullable=False, default="online"),
    Column("offline", Boolean, nullable=False, default=True),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Column("last_heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("queue_length", Integer, nullable=False, default=0),
    Column("demand_model", JSON, nullable=True),
    Column("state_fingerprint", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_devices_watchdog", devices.c.last_heartbeat_at, postgresql_where=(devices.c.offline.is_(False)) & devices.c.retired_at.is_(None))

cash_units = Table(
    "cash_units",
    metadata,
    Column("device_id", String(64), nullable=False),
    Column("unit_id", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("denomination", MONEY, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("low_threshold", Integer, nullable=False),
    Column("full_threshold", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("device_id", "unit_id"),
    ForeignKeyConstraint(["device_id"], ["devices.device_id"], ondelete="CASCADE"),
    # last line of defence behind the domain checks: a count can never leave its range
    CheckConstraint("count >= 0 AND count <= capacity", name="count_in_range"),
)

device_transactions = Table(
    "device_transactions",
    metadata,
    Column("device_id", String(64), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("amount", MONEY, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("notes", JSON, nullable=True),
    Column("customer_id", String(64), nullable=True),
    Column("diversion_id", String(64), nullable=True),
    Column("succeeded", Boolean, nullable=False),
    Column("refusal", String(500), nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("device_id", "transaction_id"),
    ForeignKeyConstraint(["device_id"], ["devices.device_id"], ondelete="CASCADE"),
)
Index("ix_device_transactions_device_time", device_transactions.c.device_id, device_transactions.c.occurred_at)

replenishments = Table(
    "replenishments",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("unit_id", String(32), nullable=False),
    Column("count_before", Integer, nullable=False),
    Column("count_after", Integer, nullable=False),
    Column("replenished_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(["device_id"], ["devices.device_id"], ondelete="CASCADE"),
)

expected_diversions = Table(
    "expected_diversions",
    metadata,
    Column("diversion_id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("service_type", String(64), nullable=False),
    Column("accepted", JSON, nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("transaction_id", String(64), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)
Index("ix_expected_diversions_open", expected_diversions.c.expires_at, postgresql_where=expected_diversions.c.status == "expected")
Index("ix_expected_diversions_match", expected_diversions.c.device_id, expected_diversions.c.customer_id, expected_diversions.c.service_type)


#: Read model of ``branch.directory.v1`` (ticketing owns branches): what the fleet page
#: shows of a branch. ``updated_at`` is the profile's own time: an older profile arriving
#: late never overwrites a newer one.
branches = Table(
    "branches",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("language", String(16), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
