"""ticket routing of channel rules (route_to, route_fallback)

Revision ID: 0110_ticket_route
Revises: 0002_ticketing_core
Create Date: 2026-11-29 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0110_ticket_route'
down_revision: str | None = '0002_ticketing_core'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('tickets', sa.Column('route_to', sa.String(length=32), nullable=True))
    op.add_column('tickets', sa.Column('route_fallback', sa.Boolean(), server_default='false', nullable=False))


def downgrade() -> None:
    op.drop_column('tickets', 'route_fallback')
    op.drop_column('tickets', 'route_to')
