"""The accounts and their transactions.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("acc_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("credit", sa.Integer(), nullable=False),
        sa.Column("debit", sa.Integer(), nullable=False),
    )
    op.create_index("ix_transactions_acc_id", "transactions", ["acc_id"])


def downgrade() -> None:
    op.drop_index("ix_transactions_acc_id", table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("accounts")
