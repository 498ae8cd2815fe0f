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


def test_versions_stored_before_0005_keep_their_code_and_no_key_id(db_url: str) -> None:
    from alembic import command

    from runtime.store import tables

    engine = db.create_engine(db_url)
    db.upgrade(engine)
    config = db._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    wf, wv = tables.workflow, tables.workflow_version
    with engine.begin() as conn:
        workflow_id = conn.execute(
            sa.insert(wf).values(name="before_0005", created_at=tables.utcnow()).returning(wf.c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(wv).values(
                workflow_id=workflow_id,
                version="v1",
                spec={"name": "before_0005"},
                code=b"PLAIT-HMAC1 signed the old way",
                created_at=tables.utcnow(),
            )
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(wv.c.code, wv.c.key_id).where(wv.c.version == "v1")).one()
    assert row.code == b"PLAIT-HMAC1 signed the old way" and row.key_id is None
    engine.dispose()
