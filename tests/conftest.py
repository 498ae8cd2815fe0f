"""Shared fixtures: a fresh PostgreSQL database per session, and a client per test on both
SQLite and PostgreSQL (``client`` is parametrized; tests that need one backend use
``sqlite_client`` or ``pg_client``)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import runtime as rt
from runtime import client as client_module
from runtime.store import open_store, tables

PG_SERVER = os.environ.get(
    "PLAIT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PLAIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a database created for this test session and dropped after it."""
    name = f"plait_test_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(PG_SERVER), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(_libpq(PG_SERVER), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    """Migrate without a client: a client refuses to start without the pickle key of a store
    an earlier test left pickled values in (``runtime.client._pickle_key``)."""
    store = open_store(url)
    store.migrate()
    store.dispose()


def _truncate(url: str) -> None:
    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in tables.SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_client(url: str, home: Path, **overrides: object) -> rt.Client:
    client = rt.connect(url, home=home, **overrides)
    return client


def _forget_pickle_keys(url: str) -> None:
    """After a test on the shared PostgreSQL database: later tests that connect with a home of
    their own before truncating would otherwise be refused for lack of this test's pickle key
    (``runtime.client._pickle_key``)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.delete(tables.pickle_key))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'plait.db'}"
        return
    url = request.getfixturevalue("pg_url")
    _migrate(url)  # before the first truncate
    _truncate(url)
    yield url
    _forget_pickle_keys(url)


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[rt.Client]:
    """A connected client (also the default for ``g.run``) on SQLite and on PostgreSQL."""
    c = make_client(db_url, tmp_path)
    yield c
    c.close()
    client_module._default = None


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[rt.Client]:
    c = make_client(f"sqlite:///{tmp_path / 'plait.db'}", tmp_path)
    yield c
    c.close()
    client_module._default = None


@pytest.fixture
def pg_client(pg_url: str, tmp_path: Path) -> Iterator[rt.Client]:
    _migrate(pg_url)
    _truncate(pg_url)
    c = make_client(pg_url, tmp_path)
    yield c
    c.close()
    client_module._default = None
    _forget_pickle_keys(pg_url)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Directory for screenshots and other files a person may want to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
