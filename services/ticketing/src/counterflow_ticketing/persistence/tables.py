"""Tables of the ticketing service. The backbone tables (outbox, processed events,
idempotency keys) are added to the same metadata so migrations cover them.

Times are ``timestamptz`` (UTC); opening hours are local wall-clock ``time`` values
interpreted in the branch's IANA zone; money columns are ``numeric``.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)

from counterflow_shared.money import MONEY_COLUMN

from counterflow_ticketing.persistence import rules_tables as _rules_tables  # noqa: F401 - registers the channel rule governance tables (issue 7)
from counterflow_ticketing.persistence.metadata import Base, backbone, metadata  # noqa: F401 - Base and backbone are imported from here

branches = Table(
    "branches",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("closed_days", JSON, nullable=False, server_default="[]"),
    Column("max_wait_s", Float, nullable=False, server_default="1200"),
    Column("no_show_after_calls", Integer, nullable=False, server_default="3"),
    Column("appointment_capacity_per_slot", Integer, nullable=False, server_default="1"),
    Column("appointment_slot_minutes", Integer, nullable=False, server_default="15"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # default language of the branch's pages and calling-display announcements (en, zh_CN)
    Column("language", String(16), nullable=False, server_default="en"),
    # "your turn soon" at this queue position (app, SMS, e-mail); NULL: the gateway's default
    Column("notify_at_position", Integer),
)

opening_hours = Table(
    "opening_hours",
    metadata,
    Column("branch_id", String(64), ForeignKey("branches.branch_id", ondelete="CASCADE"), nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("opens", Time, nullable=False),
    Column("closes", Time, nullable=False),
    PrimaryKeyConstraint("branch_id", "weekday", "opens"),
)

zones = Table(
    "zones",
    metadata,
    Column("branch_id", String(64), ForeignKey("branches.branch_id", ondelete="CASCADE"), nullable=False),
    Column("zone", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    PrimaryKeyConstraint("branch_id", "zone"),
)

service_types = Table(
    "service_types",
    metadata,
    Column("service_type", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(4), nullable=False),
    Column("skill", String(64), nullable=False),
    Column("handles_cash", Boolean, nullable=False),
    Column("zone", String(32), nullable=False),
    Column("default_service_s", Float, nullable=False),
)

branch_services = Table(
    "branch_services",
    metadata,
    Column("branch_id", String(64), ForeignKey("branches.branch_id", ondelete="CASCADE"), nullable=False),
    Column("service_type", String(64), ForeignKey("service_types.service_type"), nullable=False),
    PrimaryKeyConstraint("branch_id", "service_type"),
)

counters = Table(
    "counters",
    metadata,
    Column("counter_id", String(64), primary_key=True),
    Column("branch_id", String(64), ForeignKey("branches.branch_id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("zone", String(32), nullable=False),
    Column("skills", JSON, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
)

teller_sessions = Table(
    "teller_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("branch_id", String(64), nullable=False),
    Column("counter_id", String(64), ForeignKey("counters.counter_id"), nullable=False),
    Column("teller_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    # One live (open or paused) session per counter, enforced by the database.
    Index("uq_teller_sessions_live_counter", "counter_id", unique=True, postgresql_where=text("status <> 'closed'")),
)

kiosks = Table(
    "kiosks",
    metadata,
    Column("kiosk_id", String(64), primary_key=True),
    Column("branch_id", String(64), ForeignKey("branches.branch_id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
)

ticket_sequences = Table(
    "ticket_sequences",
    metadata,
    Column("branch_id", String(64), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("prefix", String(4), nullable=False),
    Column("last_number", Integer, nullable=False),
    PrimaryKeyConstraint("branch_id", "business_date", "prefix"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("ticket_id", String(64), primary_key=True),
    # Insertion order across instances: the tie-breaker of the call order.
    Column("arrival", BigInteger, Identity(always=True), nullable=False),
    Column("branch_id", String(64), ForeignKey("branches.branch_id"), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("prefix", String(4), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("number", String(16), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("skill", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("customer_id", String(64)),
    Column("tier", String(16)),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("target_counter_id", String(64)),
    Column("counter_id", String(64)),
    Column("teller_id", String(64)),
    Column("call_count", Integer, nullable=False, server_default="0"),
    Column("called_at", DateTime(timezone=True)),
    Column("serving_started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(64)),
    Column("remote_request_id", String(64), unique=True),
    Column("appointment_id", String(64)),
    Column("diversion_id", String(64)),
    # Channel-rule routing (domain/routing.py): the route the rule asked for, and whether
    # the ticket fell back to the normal queue because no counter could take the route.
    Column("route_to", String(32)),
    Column("route_fallback", Boolean, nullable=False, server_default="false"),
    # The wait model's view of the queue when the ticket was issued (domain/wait_model.py
    # QueueView as JSON): the wait model learns from it once the ticket is called.
    Column("wait_view", JSON),
    UniqueConstraint("branch_id", "business_date", "number", name="uq_tickets_branch_day_number"),
    Index("ix_tickets_queue", "branch_id", "skill", "due_at", postgresql_where=text("status = 'waiting'")),
    Index("ix_tickets_branch_status", "branch_id", "status"),
    # the load loop's windows (issue 15): its cost follows the window, not the history
    Index("ix_tickets_branch_issued", "branch_id", "issued_at"),
    Index("ix_tickets_branch_called", "branch_id", "called_at", postgresql_where=text("called_at IS NOT NULL")),
    Index("ix_tickets_branch_finished", "branch_id", "finished_at", postgresql_where=text("finished_at IS NOT NULL")),
    # a customer's tier change re-prioritises the customer's waiting tickets (issue 17)
    Index("ix_tickets_waiting_customer", "customer_id", postgresql_where=text("status = 'waiting'")),
)

service_time_stats = Table(
    "service_time_stats",
    metadata,
    Column("branch_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    # "*" = every teller of the branch (the service type's own mean).
    Column("teller_id", String(64), nullable=False),
    Column("served", Integer, nullable=False),
    Column("mean_s", Float, nullable=False),
    # Learned mean of the squared service time (s^2): with mean_s, the fitted spread.
    Column("mean_sq_s", Float),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("branch_id", "service_type", "teller_id"),
)

# The learned wait model of a branch (domain/wait_model.py WaitModel.to_json()).
wait_models = Table(
    "wait_models",
    metadata,
    Column("branch_id", String(64), nullable=False),
    Column("state", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("branch_id"),
)

appointments = Table(
    "appointments",
    metadata,
    Column("appointment_id", String(64), primary_key=True),
    Column("branch_id", String(64), nullable=False, index=True),
    Column("customer_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("checked_in_ticket_id", String(64)),
)

diversions = Table(
    "diversions",
    metadata,
    Column("diversion_id", String(64), primary_key=True),
    Column("branch_id", String(64), nullable=False),
    Column("kiosk_id", String(64)),
    Column("customer_id", String(64)),
    Column("service_type", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("device_id", String(64)),
    Column("amount", MONEY_COLUMN),
    Column("currency", String(3)),
    Column("rule_set_version", Integer, nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("ticket_id", String(64)),
    Column("request", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    # what the rule told the customer (issue 17: every channel shows the same offer)
    Column("fee_notice", Text),
    Column("message", Text),
    Column("offer_ttl_s", Integer),
    Column("expires_at", DateTime(timezone=True)),
    Index("ix_diversions_open", "status", "expires_at"),
)

#: SLA targets per branch and service type (issue 17): customers called within
#: ``target_s`` seconds of their ticket count as served within the SLA, measured over the
#: last ``window_s`` seconds. ``service_type`` ``*`` is the branch's default; without a row
#: the service settings ``sla_target_s`` / ``sla_window_s`` apply.
sla_targets = Table(
    "sla_targets",
    metadata,
    Column("branch_id", String(64), ForeignKey("branches.branch_id", ondelete="CASCADE"), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("target_s", Float, nullable=False),
    Column("window_s", Float, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("branch_id", "service_type"),
)

#: every transfer of a ticket, with the counter and teller that held it (``None`` when
#: the lobby moved a waiting ticket): the productivity figures count them (issue 17)
ticket_transfers = Table(
    "ticket_transfers",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("ticket_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("counter_id", String(64)),
    Column("teller_id", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_ticket_transfers_branch_at", "branch_id", "at"),
)

#: one feedback per served ticket (issue 17): ``score`` 1..5, optional comment, from
#: the kiosk or the app; ``teller_id`` is the teller who served the ticket
ticket_feedback = Table(
    "ticket_feedback",
    metadata,
    Column("ticket_id", String(64), primary_key=True),
    Column("branch_id", String(64), nullable=False),
    Column("teller_id", String(64)),
    Column("score", Integer, nullable=False),
    Column("comment", Text),
    Column("channel", String(16), nullable=False),
    Column("given_at", DateTime(timezone=True), nullable=False),
)

#: audit of priority raised by hand (lobby manager), with the reason given
priority_raises = Table(
    "priority_raises",
    metadata,
    Column("raise_id", String(64), primary_key=True),
    Column("ticket_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("from_priority", Integer, nullable=False),
    Column("to_priority", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raised_by", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Index("ix_priority_raises_ticket", "ticket_id"),
)

load_snapshots = Table(
    "load_snapshots",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("signature", JSON, nullable=False),
    # when the load loop last looked at the branch (published or not): only activity
    # after this brings the branch back into the loop before its snapshot is due
    Column("checked_at", DateTime(timezone=True)),
)
