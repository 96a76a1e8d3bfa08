"""packet_versions: every regeneration of a briefing packet is kept

Revision ID: 0006_h5
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h5"
down_revision = "0006_h4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packet_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.UniqueConstraint("incident_id", "version", name="uq_packet_versions_iv"),
    )
    op.create_index("ix_packet_versions_incident_id", "packet_versions", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_packet_versions_incident_id", table_name="packet_versions")
    op.drop_table("packet_versions")
