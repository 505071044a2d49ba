"""branch language of the pages; audited priority raises by the lobby manager

Revision ID: 0180_lobby_pages
Revises: 0110_ticket_route
Create Date: 2026-12-01 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0180_lobby_pages'
down_revision: str | None = '0110_ticket_route'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('branches', sa.Column('language', sa.String(length=16), server_default='en', nullable=False))
    op.create_table(
        'priority_raises',
        sa.Column('raise_id', sa.String(length=64), nullable=False),
        sa.Column('ticket_id', sa.String(length=64), nullable=False),
        sa.Column('branch_id', sa.String(length=64), nullable=False),
        sa.Column('from_priority', sa.Integer(), nullable=False),
        sa.Column('to_priority', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('raised_by', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('raise_id', name=op.f('pk_priority_raises')),
    )
    op.create_index('ix_priority_raises_ticket', 'priority_raises', ['ticket_id'])


def downgrade() -> None:
    op.drop_index('ix_priority_raises_ticket', table_name='priority_raises')
    op.drop_table('priority_raises')
    op.drop_column('branches', 'language')
