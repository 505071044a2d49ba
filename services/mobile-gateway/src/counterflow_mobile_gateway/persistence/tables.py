"""Tables of the mobile-gateway service. The backbone tables (outbox, processed events,
idempotency keys) are added to the same metadata so migrations cover them.

All times are ``timestamptz`` in UTC. Amounts are the platform's money column
``NUMERIC(20, 4)`` (:data:`counterflow_shared.money.MONEY_COLUMN`: every amount the shared
money type admits is stored exactly); the currency is its ISO 4217 code.
"""

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text, UniqueConstraint, text

from counterflow_shared.money import MONEY_COLUMN

from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.tables import add_backbone_tables
from counterflow_shared.rules.records import decision_table

Base = make_base()
metadata = Base.metadata
backbone = add_backbone_tables(metadata)

#: Read model of ``branch.directory.v1``: the last profile of each branch (JSON payload).
branch_profiles = Table(
    "branch_profiles",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("profile", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Read model of ``branch.load.v1``: the last load snapshot of each branch (JSON payload).
branch_loads = Table(
    "branch_loads",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("snapshot", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: A customer's tickets the app follows: remote tickets (``id`` = the remote request id,
#: pending until ticketing answers) and tickets from appointment check-ins.
customer_tickets = Table(
    "customer_tickets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("origin", String(20), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("ticket_id", String(64), nullable=True, unique=True),
    Column("number", String(20), nullable=True),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("position", Integer, nullable=True),
    Column("estimated_wait_s", Float, nullable=True),
    Column("counter_id", String(64), nullable=True),
    Column("travel_time_s", Float, nullable=True),
    Column("reject_reason", Text, nullable=True),
    Column("appointment_id", String(64), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("turn_soon_notified", Boolean, nullable=False, server_default="false"),
    Column("leave_notified", Boolean, nullable=False, server_default="false"),
    Column("calls_notified", Integer, nullable=False, server_default="0"),
)
Index("ix_customer_tickets_customer", customer_tickets.c.customer_id, customer_tickets.c.status)
Index("ix_customer_tickets_queue", customer_tickets.c.branch_id, customer_tickets.c.service_type, customer_tickets.c.status)

appointments = Table(
    "appointments",
    metadata,
    Column("appointment_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("branch_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("ticket_id", String(64), nullable=True),
    Column("reminder_sent", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_appointments_slot", appointments.c.branch_id, appointments.c.service_type, appointments.c.starts_at)

#: Hand-off drafts: a diverted transaction waiting to be completed in the app.
drafts = Table(
    "drafts",
    metadata,
    Column("draft_id", String(64), primary_key=True),
    Column("diversion_id", String(64), nullable=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("branch_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("amount", MONEY_COLUMN, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("payee", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("accepted", JSON, nullable=True),
    UniqueConstraint("diversion_id"),
)

#: Accepted ``appointment`` diversions waiting for the customer to book (issue 17): the
#: booking completes the diversion, ``expires_at`` passing expires it. ``accepted`` is
#: the ``channel.diversion.accepted`` step (JSON), the source of the closing step.
appointment_handoffs = Table(
    "appointment_handoffs",
    metadata,
    Column("diversion_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("accepted", JSON, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("appointment_id", String(64), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)
Index("ix_appointment_handoffs_open", appointment_handoffs.c.customer_id, appointment_handoffs.c.branch_id, appointment_handoffs.c.status)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_notifications_feed", notifications.c.customer_id, notifications.c.created_at)

#: One webhook delivery per notification (issue 17): ``pending`` -> ``delivered`` |
#: ``failed`` (refused by the receiver, or out of attempts); written with the notification
#: so none is lost, sent by the delivery loop (``domain/webhooks.py``).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.next_attempt_at, postgresql_where=text("status = 'pending'"))

#: Channel decisions made when the app asks for a service (shared definition, see
#: :mod:`counterflow_shared.rules.records`; ``ticket_id`` holds the remote request id).
rule_decisions = decision_table(metadata)

#: Offers of another channel made to the app instead of a remote ticket (a diversion of
#: ``channel.diversions.v1``): ``offered`` -> ``accepted`` | ``declined``. ``request_id``
#: is the remote ticket requested on decline.
app_offers = Table(
    "app_offers",
    metadata,
    Column("diversion_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("device_id", String(64), nullable=True),
    Column("amount", MONEY_COLUMN, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("rule_set_version", Integer, nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("fee_notice", Text, nullable=True),
    Column("message", Text, nullable=True),
    Column("explanation", Text, nullable=True),
    Column("offer_ttl_s", Integer, nullable=True),
    Column("travel_time_s", Float, nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
Index("ix_app_offers_customer", app_offers.c.customer_id, app_offers.c.created_at)
