"""incidents: escalation_base_at, escalation_round, assigned_to (snooze, reopen, reassign)

Revision ID: 0006_h6
Revises: 0005
Create Date: 2026-12-02 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h6"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite, which would have to rebuild the partial index).
    op.add_column("incidents", sa.Column("escalation_base_at", sa.DateTime(timezone=True)))
    op.add_column(
        "incidents",
        sa.Column("escalation_round", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("incidents", sa.Column("assigned_to", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("assigned_to")
        batch.drop_column("escalation_round")
        batch.drop_column("escalation_base_at")
