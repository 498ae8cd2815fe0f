"""Private PostgreSQL and Redis server processes on their own ports, for tests that stop or
break a server. The shared servers are never touched."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        assert time.monotonic() < deadline, f"{what} did not come up in {timeout}s"
        time.sleep(0.05)


class PrivateRedis:
    def __init__(self, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.data_dir = data_dir
        """Where ``shutdown`` saves the data that the next start loads; without it, every
        start is empty."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *(["--dir", str(self.data_dir)] if self.data_dir else []),
            ],
            stdout=subprocess.DEVNULL,
        )
        _until(lambda: redis.Redis(port=self.port).ping(), 10, "redis")

    def kill(self) -> None:
        """Crash it: everything in memory (queued messages) is gone."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def shutdown(self) -> None:
        """Stop it as an operator would: its data is saved (to ``data_dir``) first."""
        assert self.proc is not None and self.data_dir is not None
        redis.Redis(port=self.port).shutdown(save=True)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill()


class PrivatePostgres:
    """A throwaway cluster (initdb) owned by the postgres user, on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="plait-pg-"))
        os.chmod(self.dir, 0o777)
        self.data = self.dir / "data"
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "PostgreSQL server binaries not found"
        self.bin = Path(bins[-1])

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    def init(self) -> None:
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )

    def start(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "start",
        )
        _until(
            lambda: (
                psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=1
                ).close()
                or True
            ),
            30,
            "postgres",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
