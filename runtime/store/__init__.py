"""Persistence: the Store contract (``contract``), its SQLAlchemy implementation for both
dialects (``sql``, ``postgres``, ``sqlite``), tables, migrations and value storage."""

from sqlalchemy.engine import make_url

from runtime.store.contract import (
    INTERRUPTED,
    WORKER_LOST,
    Acquired,
    CacheEntry,
    GiveUp,
    Leadership,
    Lease,
    NewEvent,
    NodeFinish,
    NodeStart,
    Pooler,
    Renewal,
    StaleWrite,
    Store,
    Takeover,
    cut_off,
)
from runtime.store.db import normalize_url


def open_store(url: str, secret_key: bytes | None = None, *, pooler: Pooler = "none") -> Store:
    """The Store for a SQLAlchemy URL: PostgreSQL (``postgresql[+psycopg]://``) or SQLite.
    ``pooler``: what sits between it and PostgreSQL (``Settings.database_pooler``)."""
    backend = make_url(normalize_url(url)).get_backend_name()
    if backend == "postgresql":
        from runtime.store.postgres import PostgresStore

        return PostgresStore(url, secret_key, pooler=pooler)
    if backend == "sqlite":
        from runtime.store.sqlite import SqliteStore

        return SqliteStore(url, secret_key)
    raise ValueError(f"unsupported database {backend!r} (PostgreSQL or SQLite): {url!r}")


__all__ = [
    "INTERRUPTED",
    "WORKER_LOST",
    "Acquired",
    "CacheEntry",
    "GiveUp",
    "Leadership",
    "Lease",
    "NewEvent",
    "NodeFinish",
    "NodeStart",
    "Renewal",
    "StaleWrite",
    "Store",
    "Takeover",
    "cut_off",
    "open_store",
]
