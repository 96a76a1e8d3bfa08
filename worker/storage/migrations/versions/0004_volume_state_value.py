"""volume_state.value: the count each stored state was worked out from, so a recount invalidates it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows stored before this revision have no value (NULL): the pipeline treats them as stale
    # and works them out again once, from the counts as they are now.
    with op.batch_alter_table("volume_state") as batch:
        batch.add_column(sa.Column("value", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volume_state") as batch:
        batch.drop_column("value")
