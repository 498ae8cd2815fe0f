from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.servers import PrivatePostgres, PrivateRedis


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.init()
    server.start()
    yield server
    server.destroy()
