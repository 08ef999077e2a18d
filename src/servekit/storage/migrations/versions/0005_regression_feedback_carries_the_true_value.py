"""regression feedback carries the true value

A label on a regression model meant nothing (its "accuracy" was 0): feedback now carries the
true value, and the absolute error it gives, so that the mean absolute error is one average.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feedback", sa.Column("value", sa.Float(), nullable=True))
    op.add_column("feedback", sa.Column("abs_error", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("feedback", "abs_error")
    op.drop_column("feedback", "value")
