"""outbox NOTIFY trigger (relay wake-up across processes), the load loop's indexes and checked_at

Revision ID: 0150_notify_indexes
Revises: 0110_ticket_route
Create Date: 2026-12-01 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from counterflow_shared.events.outbox import drop_notify_trigger_ddl, notify_trigger_ddl

revision: str = '0150_notify_indexes'
down_revision: str | None = '0110_ticket_route'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in notify_trigger_ddl():
        op.execute(statement)
    op.create_index('ix_tickets_branch_issued', 'tickets', ['branch_id', 'issued_at'])
    op.create_index('ix_tickets_branch_called', 'tickets', ['branch_id', 'called_at'], postgresql_where=sa.text('called_at IS NOT NULL'))
    op.create_index('ix_tickets_branch_finished', 'tickets', ['branch_id', 'finished_at'], postgresql_where=sa.text('finished_at IS NOT NULL'))
    op.add_column('load_snapshots', sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('load_snapshots', 'checked_at')
    op.drop_index('ix_tickets_branch_finished', table_name='tickets')
    op.drop_index('ix_tickets_branch_called', table_name='tickets')
    op.drop_index('ix_tickets_branch_issued', table_name='tickets')
    for statement in drop_notify_trigger_ddl():
        op.execute(statement)
