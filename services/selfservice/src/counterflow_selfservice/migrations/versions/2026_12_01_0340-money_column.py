"""amounts in the platform's money column NUMERIC(20, 4) (issue 16: never rounded)

NUMERIC(18, 2) rounded "0.005" to "0.01" and "2.665" to "2.67" silently; the API now
refuses an amount its currency's minor unit does not allow, and the column holds every
amount the shared money type admits (16 digits before the point, 4 after). Widening never
loses a stored value.

Revision ID: 0160_money_column
Revises: 0002_devices
Create Date: 2026-12-01 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0160_money_column'
down_revision: str | None = '0002_devices'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("devices", "typical_withdrawal"), ("cash_units", "denomination"), ("device_transactions", "amount"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(20, 4), existing_type=sa.Numeric(18, 2))


def downgrade() -> None:
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(18, 2), existing_type=sa.Numeric(20, 4))
