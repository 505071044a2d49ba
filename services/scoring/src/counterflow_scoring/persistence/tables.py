"""Tables of the scoring service. The backbone tables (outbox, processed events,
idempotency keys) are added to the same metadata so migrations cover them.

Three groups:

* the PKDD'99 book as imported (``districts`` .. ``transactions``), one row per file row,
  keyed by the file's own ids, plus ``import_checkpoints`` that make the import resumable;
* what live events add to a profile (``customers``, ``channel_usage``,
  ``diversion_outcomes``);
* the result of scoring (``customer_scores``, ``propensity_models``).

Amounts are ``NUMERIC`` (CZK, major units); times ``timestamptz`` (UTC).
"""

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, Numeric, String, Table, func

from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.tables import add_backbone_tables

Base = make_base()
metadata = Base.metadata
backbone = add_backbone_tables(metadata)

MONEY = Numeric(16, 2)

districts = Table(
    "districts",
    metadata,
    Column("district_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(80), nullable=False),
    Column("region", String(80), nullable=False),
    Column("inhabitants", Integer, nullable=False),
    Column("urban_ratio_pct", Numeric(6, 2)),
    Column("average_salary", MONEY),
    Column("unemployment_95_pct", Numeric(6, 2)),
    Column("unemployment_96_pct", Numeric(6, 2)),
    Column("entrepreneurs_per_1000", Integer),
    Column("crimes_95", Integer),
    Column("crimes_96", Integer),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("district_id", Integer, nullable=False),
    Column("branch_id", String(16), nullable=False),
    Column("frequency", String(40)),
    Column("opened_on", Date, nullable=False),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", String(64), nullable=False, unique=True),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("district_id", Integer, nullable=False),
)

dispositions = Table(
    "dispositions",
    metadata,
    Column("disp_id", Integer, primary_key=True, autoincrement=False),
    Column("client_id", Integer, nullable=False, index=True),
    Column("account_id", Integer, nullable=False, index=True),
    Column("type", String(16), nullable=False),
)

standing_orders = Table(
    "standing_orders",
    metadata,
    Column("order_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("bank_to", String(8)),
    Column("account_to", String(32)),
    Column("amount", MONEY),
    Column("k_symbol", String(16)),
)

loans = Table(
    "loans",
    metadata,
    Column("loan_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("granted_on", Date, nullable=False),
    Column("amount", MONEY),
    Column("duration_months", Integer, nullable=False),
    Column("monthly_payment", MONEY),
    Column("status", String(1), nullable=False),
)

cards = Table(
    "cards",
    metadata,
    Column("card_id", Integer, primary_key=True, autoincrement=False),
    Column("disp_id", Integer, nullable=False, index=True),
    Column("type", String(16), nullable=False),
    Column("issued_on", Date, nullable=False),
)

transactions = Table(
    "transactions",
    metadata,
    Column("trans_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("booked_on", Date, nullable=False),
    Column("type", String(16)),
    Column("operation", String(32)),
    Column("amount", MONEY),
    Column("balance", MONEY),
    Column("k_symbol", String(16)),
    Column("bank", String(8)),
    Column("account", String(32)),
)

#: Import progress per data set and table: ``rows_done`` rows of the file are stored;
#: ``fingerprint`` (SHA-256 of the file) tells whether the file changed since.
import_checkpoints = Table(
    "import_checkpoints",
    metadata,
    Column("dataset", String(40), primary_key=True),
    Column("table_name", String(40), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("rows_done", Integer, nullable=False),
    Column("rows_total", Integer, nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Every customer the service knows: imported clients and customers first seen in events.
customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("client_id", Integer, unique=True),
    Column("home_branch_id", String(64)),
    Column("first_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_activity_at", DateTime(timezone=True)),
)

#: Live channel use per customer (counter tickets served, device and app transactions).
channel_usage = Table(
    "channel_usage",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("uses", Integer, nullable=False, server_default="0"),
    Column("last_used_at", DateTime(timezone=True)),
)

#: The answer to each diversion offer (one row per diversion; a later answer wins).
diversion_outcomes = Table(
    "diversion_outcomes",
    metadata,
    Column("diversion_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_diversion_outcomes_customer", "customer_id", "channel"),
)

#: The current score of each customer and what was last published about it
#: (``factors``: factor -> raw value and points; ``features``: inputs of the propensity).
customer_scores = Table(
    "customer_scores",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("home_branch_id", String(64), index=True),
    Column("score", Float, nullable=False),
    Column("percentile", Float, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("factors", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("propensity", JSON, nullable=False),
    Column("model_version", String(200), nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("published_tier", String(16)),
    Column("published_propensity", JSON),
    Column("published_at", DateTime(timezone=True)),
)

#: The fitted population propensity model per channel (coefficients, training summary).
propensity_models = Table(
    "propensity_models",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("training_outcomes", BigInteger, nullable=False),
)
