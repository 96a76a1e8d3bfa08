"""source_polls: one row per poll of a source (the weekly summary's proof of watch)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_polls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("health", sa.String(length=20), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_source_polls_source_id", "source_polls", ["source_id"])
    op.create_index("ix_source_polls_topic_at", "source_polls", ["topic", "at"])


def downgrade() -> None:
    op.drop_index("ix_source_polls_topic_at", table_name="source_polls")
    op.drop_index("ix_source_polls_source_id", table_name="source_polls")
    op.drop_table("source_polls")
