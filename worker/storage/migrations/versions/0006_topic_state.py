"""topic_state (data version per topic, what the last evaluation saw), buckets.seq, mentions.seq

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_state",
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("last_mention_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evaluated_version", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("topic"),
    )
    with op.batch_alter_table("buckets") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False))
    op.create_index("ix_buckets_topic_seq", "buckets", ["topic", "seq"])
    with op.batch_alter_table("mentions") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False))
    op.create_index("ix_mentions_topic_seq", "mentions", ["topic", "seq"])
    # The volume detector changed in this release (weekday/weekend baseline, minimum rise): the
    # stored state was worked out by the old one. Dropping it makes the next evaluation of each
    # topic work it out again from the buckets, so live equals the batch run again.
    op.execute("DELETE FROM volume_state")
    # Topics that already have buckets start at version 1, so a first evaluation reads them all.
    op.execute(
        "INSERT INTO topic_state (topic, version, evaluated_version) "
        "SELECT DISTINCT topic, 1, 0 FROM buckets"
    )


def downgrade() -> None:
    op.drop_index("ix_mentions_topic_seq", table_name="mentions")
    with op.batch_alter_table("mentions") as batch:
        batch.drop_column("seq")
    op.drop_index("ix_buckets_topic_seq", table_name="buckets")
    with op.batch_alter_table("buckets") as batch:
        batch.drop_column("seq")
    op.drop_table("topic_state")
