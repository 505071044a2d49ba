"""wait model: the queue view of each ticket at issue, the learned wait model per branch,
the learned second moment of service times

Revision ID: 0220_wait_model
Revises: 0150_notify_indexes
Create Date: 2026-12-01 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0220_wait_model'
down_revision: str | None = '0150_notify_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('tickets', sa.Column('wait_view', sa.JSON(), nullable=True))
    op.add_column('service_time_stats', sa.Column('mean_sq_s', sa.Float(), nullable=True))
    op.create_table(
        'wait_models',
        sa.Column('branch_id', sa.String(length=64), nullable=False),
        sa.Column('state', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('branch_id', name=op.f('pk_wait_models')),
    )


def downgrade() -> None:
    op.drop_table('wait_models')
    op.drop_column('service_time_stats', 'mean_sq_s')
    op.drop_column('tickets', 'wait_view')
