"""Database engines and schema migrations.

SQLite gets WAL mode and ``BEGIN IMMEDIATE`` for write transactions, so that a transaction
that reads and then writes never fails half-way on a lock upgrade; PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x706C6169  # "plai": serialises concurrent upgrades on PostgreSQL

WRITE = {"plait_write": True}
"""Execution options of a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""


def normalize_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """The URL without its password, for people."""
    return make_url(url).render_as_string(hide_password=True)


def absolute_sqlite(url: str) -> str:
    """A SQLite URL with its file made absolute (another working directory opens the same
    file); other URLs as they are."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    return parsed.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


POOL_SIZE, POOL_OVERFLOW = 10, 20
"""Connections per process: kept open, and opened beyond that under load."""
NODE_WRITE_CONNECTIONS = 8
"""Of those, how many node code's own writes (documents) may use at once."""


def create_engine(url: str, *, prepared: bool = True) -> sa.Engine:
    """``prepared=False``: psycopg never prepares a statement on the server (behind a
    transaction pooler the next execution may reach another server session)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    connect_args = {} if prepared else {"prepare_threshold": None}
    return sa.create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def _sqlite_engine(url: str, database: str | None) -> sa.Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's recipe)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only power loss may drop the last commit
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("plait_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head_revision() -> str | None:
    """The newest revision: the one no other migration names as its ``down_revision``
    (read from the files, so opening a store does not import Alembic)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text()
        revision = re.search(r"^revision: str = ['\"](\w+)['\"]", text, re.M)
        parent = re.search(r"^down_revision: .*= ['\"](\w+)['\"]", text, re.M)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision; safe to call from several processes at once."""
    from alembic import command

    config = _alembic_config()
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def ensure_schema(engine: sa.Engine) -> None:
    """Upgrade only when behind, so opening an up-to-date store costs one query."""
    if current_revision(engine) != head_revision():
        upgrade(engine)
