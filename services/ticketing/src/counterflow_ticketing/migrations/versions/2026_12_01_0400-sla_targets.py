"""SLA targets per branch and service type (issue 17)

Revision ID: 0172_sla_targets
Revises: 0171_decision_detail
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0172_sla_targets'
down_revision: str | None = '0171_decision_detail'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sla_targets',
    sa.Column('branch_id', sa.String(length=64), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('target_s', sa.Float(), nullable=False),
    sa.Column('window_s', sa.Float(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.branch_id'], name=op.f('fk_sla_targets_branch_id_branches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('branch_id', 'service_type', name=op.f('pk_sla_targets'))
    )


def downgrade() -> None:
    op.drop_table('sla_targets')
