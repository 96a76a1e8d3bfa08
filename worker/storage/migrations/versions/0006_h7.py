"""notifications.receipt: the vendor's reference to a delivered message (Slack channel + ts,
Twilio message sid, PagerDuty dedup_key), so a later acknowledgement can update it there

Revision ID: 0006_h7
Revises: 0005
Create Date: 2026-12-02 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h7"
down_revision = "0006_h6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("receipt", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("receipt")
