"""outbox NOTIFY trigger: commits wake the relays of every process (ADR 0151)

Revision ID: 0150_outbox_notify
Revises: 0001_backbone
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

from alembic import op

from counterflow_shared.events.outbox import drop_notify_trigger_ddl, notify_trigger_ddl

revision: str = '0150_outbox_notify'
down_revision: str | None = '0001_backbone'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in notify_trigger_ddl():
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_trigger_ddl():
        op.execute(statement)
