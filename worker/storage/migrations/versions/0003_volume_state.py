"""volume_state: the volume detector's expected count, spread and surprise per topic bucket

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_state",
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("bucket_seconds", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("spread", sa.Float(), nullable=False),
        sa.Column("surprise", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "bucket_seconds", "start"),
    )


def downgrade() -> None:
    op.drop_table("volume_state")
