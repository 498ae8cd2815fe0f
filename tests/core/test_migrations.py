"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import runtime.store.tables  # noqa: F401  (registers the tables)
from runtime.store import db


def test_migrations_match_models(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.upgrade(engine)
    db.upgrade(engine)
    with engine.connect() as conn:
        assert "node_run" in sa.inspect(conn).get_table_names()
    engine.dispose()
