"""users are never reused, tokens carry a generation, login attempts are shared

A deleted user stays as a tombstone, so that no later account gets its id (and its tokens);
``token_generation`` ends a user's tokens when they are deleted or change role or password; the
failed-login limits are counted here, so that every process of a server shares them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOTE: add_column only, no batch rebuild: rebuilding users on SQLite drops the table, and its
    # implicit DELETE would cascade to every key and feedback row.
    op.add_column(
        "users", sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("users", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempts_key_at", "login_attempts", ["key", "at"], unique=False)
    op.create_index(op.f("ix_login_attempts_at"), "login_attempts", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_attempts_at"), table_name="login_attempts")
    op.drop_index("ix_login_attempts_key_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), for the reason upgrade() gives.
    op.drop_column("users", "deleted_at")
    op.drop_column("users", "token_generation")
