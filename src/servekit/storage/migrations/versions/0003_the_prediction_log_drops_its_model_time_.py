"""the prediction log drops its (model, created_at) index

No query reads predictions by model and time, and each index is one more B-tree every logged
row is written into: on SQLite this one was about a fifth of the insert's cost.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_predictions_model_created")


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index("ix_predictions_model_created", ["model", "created_at"], unique=False)
