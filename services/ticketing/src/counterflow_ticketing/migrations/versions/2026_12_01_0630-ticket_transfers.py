"""Transfers recorded per teller for the productivity figures (issue 17)

Revision ID: 0176_ticket_transfers
Revises: 0174_notify_at_position
Create Date: 2026-12-01 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0176_ticket_transfers'
down_revision: str | None = '0174_notify_at_position'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'ticket_transfers',
        sa.Column('transfer_id', sa.String(length=64), nullable=False),
        sa.Column('ticket_id', sa.String(length=64), nullable=False),
        sa.Column('branch_id', sa.String(length=64), nullable=False),
        sa.Column('counter_id', sa.String(length=64), nullable=True),
        sa.Column('teller_id', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('transfer_id', name=op.f('pk_ticket_transfers')),
    )
    op.create_index('ix_ticket_transfers_branch_at', 'ticket_transfers', ['branch_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_transfers_branch_at', table_name='ticket_transfers')
    op.drop_table('ticket_transfers')
