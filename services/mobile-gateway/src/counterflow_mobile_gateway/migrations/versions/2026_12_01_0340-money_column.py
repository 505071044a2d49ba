"""amounts in the platform's money column NUMERIC(20, 4) (issue 16)

An unconstrained ``numeric`` stored whatever arrived ("1E+200000" as a 200,001-digit
number). The shared money type admits 16 digits before the point and 4 after; the column
now says the same. A stored value that does not fit stops the migration (it is never
truncated): such a row came from the defect this fixes and needs a person to look at it.

Revision ID: 0160_money_column
Revises: 0110_app_decisions
Create Date: 2026-12-01 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0160_money_column'
down_revision: str | None = '0110_app_decisions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("drafts", "amount"), ("app_offers", "amount"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(20, 4), existing_type=sa.Numeric())


def downgrade() -> None:
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(), existing_type=sa.Numeric(20, 4))
