"""diversions keep the rule's offer terms (fee notice, message, lifetime) and expiry (issue 17)

Revision ID: 0170_diversion_terms
Revises: 0110_ticket_route
Create Date: 2026-12-01 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0170_diversion_terms'
down_revision: str | None = '0110_ticket_route'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('diversions', sa.Column('fee_notice', sa.Text(), nullable=True))
    op.add_column('diversions', sa.Column('message', sa.Text(), nullable=True))
    op.add_column('diversions', sa.Column('offer_ttl_s', sa.Integer(), nullable=True))
    op.add_column('diversions', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_diversions_open', 'diversions', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_diversions_open', table_name='diversions')
    for column in ('expires_at', 'offer_ttl_s', 'message', 'fee_notice'):
        op.drop_column('diversions', column)
