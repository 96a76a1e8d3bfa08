"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from worker.storage.db import make_engine
from worker.storage.models import Base


def _on_this_dialect(name: str):  # type: ignore[no-untyped-def]
    """Skip model objects declared for another dialect only (`Index(...).ddl_if(dialect=...)`,
    e.g. the PostgreSQL trigram index on mentions.text): Alembic's compare ignores `ddl_if`."""

    def include(obj, _name, _type, _reflected, _compare_to) -> bool:  # type: ignore[no-untyped-def]
        only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
        return only is None or only == name

    return include


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": _on_this_dialect(conn.dialect.name)}
            context = MigrationContext.configure(conn, opts=opts)
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"a model changed without a migration (or the reverse): {diff}"
