"""every accepted app diversion closes (issue 17): drafts keep their accepted step,
appointment hand-offs wait for a booking

Revision ID: 0170_diversion_closure
Revises: 0110_app_decisions
Create Date: 2026-12-01 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0170_diversion_closure'
down_revision: str | None = '0110_app_decisions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('drafts', sa.Column('accepted', sa.JSON(), nullable=True))
    op.create_table('appointment_handoffs',
    sa.Column('diversion_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('branch_id', sa.String(length=64), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('accepted', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('appointment_id', sa.String(length=64), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('diversion_id')
    )
    op.create_index('ix_appointment_handoffs_open', 'appointment_handoffs', ['customer_id', 'branch_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_appointment_handoffs_open', table_name='appointment_handoffs')
    op.drop_table('appointment_handoffs')
    op.drop_column('drafts', 'accepted')
