"""Per-branch "your turn soon" position (issue 17)

Revision ID: 0174_notify_at_position
Revises: 0173_waiting_by_customer
Create Date: 2026-12-01 06:10:00
"""

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa


revision: str = '0174_notify_at_position'
down_revision: str | None = '0173_waiting_by_customer'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('branches', sa.Column('notify_at_position', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('branches', 'notify_at_position')
