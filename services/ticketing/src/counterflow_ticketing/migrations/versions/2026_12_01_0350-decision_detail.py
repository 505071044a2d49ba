"""decision records keep every veto, why each device was not offered and what the
customer was told (issue 17); indexes to read a decision by ticket or offer

Revision ID: 0171_decision_detail
Revises: 0170_diversion_terms
Create Date: 2026-12-01 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0171_decision_detail'
down_revision: str | None = '0170_diversion_terms'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('rule_decisions', sa.Column('detail', sa.JSON(), nullable=True))
    op.create_index('ix_rule_decisions_ticket', 'rule_decisions', ['ticket_id'], unique=False)
    op.create_index('ix_rule_decisions_diversion', 'rule_decisions', ['diversion_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rule_decisions_diversion', table_name='rule_decisions')
    op.drop_index('ix_rule_decisions_ticket', table_name='rule_decisions')
    op.drop_column('rule_decisions', 'detail')
