"""The Store contract on SQLite: writers are serialised (``BEGIN IMMEDIATE`` for every write
transaction, ``runtime.store.db``), so a read inside a write transaction sees the state no other
writer can change before it commits; no row locks are needed, and every process may lead."""

from __future__ import annotations

from sqlalchemy.dialects import sqlite

from runtime.store.sql import SqlStore


class SqliteStore(SqlStore):
    _insert = staticmethod(sqlite.insert)
