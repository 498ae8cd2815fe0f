"""Stored secrets on worker processes: the worker that runs a node decrypts what that node
declares, with its own copy of the encryption key; a worker without the key fails the node
naming the secret; no value reaches the database either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import runtime as rt
from runtime import client as client_module
from runtime import secrets
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.core.test_secrets import everything_stored
from tests.stored_secrets import MARK, NAME, VALUE, leaks
from tests.workers import Cluster, cluster

KEY = Fernet.generate_key().decode()


@pytest.fixture
def keyless(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster whose worker gets no encryption key (the caller stores one)."""
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        yield c


def caller(c: Cluster) -> rt.Client:
    client = rt.connect(
        c.database_url,
        redis_url=c.redis_url,
        queue=c.queue,
        secret_key=c.secret_key,
        signing_key=c.signing_key,
        lease_seconds=c.lease_seconds,
        home=c.home,
        encryption_key=KEY,
    )
    secrets.Secrets(client.store, client.settings).set(NAME, VALUE, by="alice")
    return client


def test_the_worker_decrypts_declared_secrets_and_stores_only_the_marker(
    keyless: Cluster,
) -> None:
    keyless.start_worker(env={"PLAIT_ENCRYPTION_KEY": KEY})
    client = caller(keyless)
    try:
        run = client.start(leaks, {}).wait(60)
        assert run.status == "failed"  # the node ``fails`` raises, by design
        nodes = run.nodes
        assert nodes["call"].status == "succeeded", nodes["call"].error
        assert run.output("call")["echo"] == f"used {MARK}"
        assert run.output("in_child") == f"{MARK} from the child"
        assert nodes["fails"].error == f"the API refused {MARK}"
        assert MARK in (nodes["call"].logs or "")
        assert VALUE not in everything_stored(client)
    finally:
        client.close()
        client_module._default = None


def test_a_worker_without_the_key_fails_the_node_naming_the_secret(keyless: Cluster) -> None:
    keyless.start_worker()
    client = caller(keyless)
    try:
        run = client.start(leaks, {}).wait(60)
        assert run.status == "failed"
        error = run.nodes["call"].error or ""
        assert NAME in error and "decrypt" in error, error
        assert VALUE not in everything_stored(client)
    finally:
        client.close()
        client_module._default = None
