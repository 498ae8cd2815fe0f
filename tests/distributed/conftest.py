from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime import client as client_module
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.workers import Cluster, cluster


@pytest.fixture
def dist(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """PostgreSQL + Redis + one worker process on a queue of this test's own."""
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1)
        yield c


@pytest.fixture
def dist_client(dist: Cluster) -> Iterator[rt.Client]:
    c = dist.connect()
    yield c
    c.close()
    client_module._default = None
