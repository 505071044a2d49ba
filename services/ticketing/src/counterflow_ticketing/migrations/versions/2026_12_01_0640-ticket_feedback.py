"""Customer feedback after service (issue 17)

Revision ID: 0177_ticket_feedback
Revises: 0176_ticket_transfers
Create Date: 2026-12-01 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0177_ticket_feedback'
down_revision: str | None = '0176_ticket_transfers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'ticket_feedback',
        sa.Column('ticket_id', sa.String(length=64), nullable=False),
        sa.Column('branch_id', sa.String(length=64), nullable=False),
        sa.Column('teller_id', sa.String(length=64), nullable=True),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_ticket_feedback')),
    )


def downgrade() -> None:
    op.drop_table('ticket_feedback')
