"""buckets.texts: distinct texts per bucket, so retweet storms count once for sentiment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("buckets") as batch:
        batch.add_column(sa.Column("texts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("buckets") as batch:
        batch.drop_column("texts")
