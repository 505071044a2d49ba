"""channel decisions and app offers (issue 7: the gateway evaluates the channel rules)

Revision ID: 0110_app_decisions
Revises: 0002_mobile_tables
Create Date: 2026-11-29 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0110_app_decisions'
down_revision: str | None = '0002_mobile_tables'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rule_decisions',
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('branch_id', sa.String(length=64), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('diversion_id', sa.String(length=64), nullable=True),
    sa.Column('ticket_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('decision_id')
    )
    op.create_index('ix_rule_decisions_branch_time', 'rule_decisions', ['branch_id', 'decided_at'], unique=False)
    op.create_index('ix_rule_decisions_time', 'rule_decisions', ['decided_at'], unique=False)
    op.create_table('app_offers',
    sa.Column('diversion_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('branch_id', sa.String(length=64), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.Numeric(asdecimal=True), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fee_notice', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('offer_ttl_s', sa.Integer(), nullable=True),
    sa.Column('travel_time_s', sa.Float(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('diversion_id')
    )
    op.create_index('ix_app_offers_customer', 'app_offers', ['customer_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_app_offers_customer', table_name='app_offers')
    op.drop_table('app_offers')
    op.drop_index('ix_rule_decisions_time', table_name='rule_decisions')
    op.drop_index('ix_rule_decisions_branch_time', table_name='rule_decisions')
    op.drop_table('rule_decisions')
