"""Plait behind a real PgBouncer in transaction pooling mode (``PLAIT_DATABASE_POOLER=
transaction``), with two server connections shared by every client connection, so that
consecutive transactions of one client land on different server sessions: runs, waits,
checkpoints on the lean psycopg path and leaderships all keep working, embedded and on a
worker process."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

import runtime as rt
from runtime import client as client_module
from runtime.store import open_store
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.faults.servers import free_port
from tests.workers import cluster

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@pytest.fixture
def bouncer(pg_url: str, tmp_path: Path) -> Iterator[str]:
    """A PgBouncer in front of the test server; its URL for the test database."""
    _migrate(pg_url)  # migrated directly, then cleared
    _truncate(pg_url)
    server = make_url(pg_url)
    port = free_port()
    # pgbouncer refuses to run as root: as root it runs as postgres, who must read this
    where = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    where.chmod(0o777)
    (where / "users.txt").write_text(f'"{server.username}" ""\n')
    (where / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.host} port={server.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {where}/users.txt\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 500\n"
        f"logfile = {where}/pgbouncer.log\n"
    )
    for f in where.iterdir():
        f.chmod(0o666)
    command = [PGBOUNCER, str(where / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = server.set(port=port).render_as_string(hide_password=False)
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + 20
    while True:
        try:
            psycopg.connect(libpq, connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (
                    (where / "pgbouncer.log").read_text()
                    if (where / "pgbouncer.log").exists()
                    else ""
                )
                raise RuntimeError(f"pgbouncer did not start: {log}") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(where, ignore_errors=True)


def review() -> rt.Graph:
    g = rt.Graph("through_pgbouncer")
    g.add("a", lambda x: x + 1)
    for i in range(8):  # more executions of each statement than psycopg waits to prepare it
        g.add(f"b{i}", lambda a: a * 2)
    g.wait("approve", {"ok": bool}, after=["a"])
    g.add("done", lambda a, approve: a if approve["ok"] else -1)
    return g


def test_runs_waits_and_leaderships_through_pgbouncer(bouncer: str, tmp_path: Path) -> None:
    client = rt.connect(bouncer, home=tmp_path, database_pooler="transaction")
    try:
        g = review()
        runs = [client.start(g, {"x": i}) for i in range(12)]
        for run in runs:
            assert run.wait(60).status == "waiting", run.error
        for run in runs:
            run.resume("approve", ok=True)
        for i, run in enumerate(runs):
            assert run.wait(60).status == "succeeded", run.error
            assert run.output("done") == i + 1 and run.output("b7") == 2 * (i + 1)

        mine = client.store.leader("pgbouncer-test")
        other_store = open_store(bouncer, pooler="transaction")
        theirs = other_store.leader("pgbouncer-test")
        assert mine.hold() and mine.hold(), "held, and renewed by holding again"
        assert not theirs.hold(), "one holder at a time, across server sessions"
        mine.release()
        assert theirs.hold()
        theirs.release()
        other_store.dispose()
    finally:
        client.close()
        client_module._default = None


def test_a_worker_runs_through_pgbouncer(bouncer: str, tmp_path: Path) -> None:
    with cluster(bouncer, REDIS_URL, tmp_path) as c:
        c.start_worker(env={"PLAIT_DATABASE_POOLER": "transaction"})
        caller = rt.connect(
            bouncer,
            redis_url=c.redis_url,
            queue=c.queue,
            secret_key=c.secret_key,
            signing_key=c.signing_key,
            home=c.home,
            database_pooler="transaction",
        )
        try:
            run = caller.start(review(), {"x": 4}).wait(60)
            assert run.status == "waiting", run.error
            run.resume("approve", ok=True)
            assert run.wait(60).status == "succeeded", run.error
            assert run.output("done") == 5
        finally:
            caller.close()
            client_module._default = None
