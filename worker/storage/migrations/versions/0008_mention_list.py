"""mention list: keyset-paging indexes on mentions (created_at, id) and a trigram index on text

`ix_mentions_topic_created` (topic, created_at) becomes (topic, created_at, id), which serves the
same queries and the list's keyset order; (created_at, id) serves the list without a topic,
(topic, platform, created_at, id) a platform with few of the topic's mentions (app reviews among
tweets) and (author, created_at, id) the author filter. On PostgreSQL, `pg_trgm` (a trusted extension: the
database owner may create it) gives `text` a GIN trigram index for `ILIKE '%q%'`; where the
extension is not installed on the server, the index is skipped with a warning and text search
falls back to a scan (docs/api.md, "Search").

Revision ID: 0008_mention_list
Revises: 0007_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_mention_list"
down_revision = "0007_accounts"
branch_labels = None
depends_on = None


def _trgm_available(bind: sa.engine.Connection) -> bool:
    return bool(
        bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        ).scalar()
    )


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("mentions") as batch:
        batch.drop_index("ix_mentions_topic_created")
        batch.create_index("ix_mentions_topic_created_id", ["topic", "created_at", "id"])
        batch.create_index("ix_mentions_created_id", ["created_at", "id"])
        batch.create_index(
            "ix_mentions_topic_platform_created_id", ["topic", "platform", "created_at", "id"]
        )
        batch.create_index("ix_mentions_author_created_id", ["author", "created_at", "id"])
    if bind.dialect.name == "postgresql":
        if _trgm_available(bind):
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            op.create_index(
                "ix_mentions_text_trgm",
                "mentions",
                ["text"],
                postgresql_using="gin",
                postgresql_ops={"text": "gin_trgm_ops"},
            )
        else:  # pragma: no cover - depends on the server's packages
            import warnings

            warnings.warn(
                "pg_trgm is not available on this PostgreSQL server: the mention list's text "
                "search (q) scans instead of using an index",
                stacklevel=1,
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_mentions_text_trgm")
    with op.batch_alter_table("mentions") as batch:
        batch.drop_index("ix_mentions_author_created_id")
        batch.drop_index("ix_mentions_topic_platform_created_id")
        batch.drop_index("ix_mentions_created_id")
        batch.drop_index("ix_mentions_topic_created_id")
        batch.create_index("ix_mentions_topic_created", ["topic", "created_at"])
