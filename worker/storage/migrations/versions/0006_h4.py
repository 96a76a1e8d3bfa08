"""heartbeats: the last run of each periodic job (dead man's switch, /metrics, /healthz)

Revision ID: 0006_h4
Revises: 0005
Create Date: 2026-12-02 02:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h4"
down_revision = "0006_h3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
