"""Waiting tickets by customer: a tier change re-prioritises them (issue 17)

Revision ID: 0173_waiting_by_customer
Revises: 0172_sla_targets
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa


revision: str = '0173_waiting_by_customer'
down_revision: str | None = '0172_sla_targets'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tickets_waiting_customer', 'tickets', ['customer_id'], unique=False, postgresql_where=sa.text("status = 'waiting'"))


def downgrade() -> None:
    op.drop_index('ix_tickets_waiting_customer', table_name='tickets', postgresql_where=sa.text("status = 'waiting'"))
