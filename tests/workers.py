"""Worker processes for the distributed and fault suites: real `plait worker` processes on
a queue of their own, sharing one database and one Redis."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import runtime as rt

ROOT = Path(__file__).parent.parent


@dataclass
class Cluster:
    """A store + Redis + queue that callers and workers share."""

    database_url: str
    redis_url: str
    home: Path
    queue: str = field(default_factory=lambda: f"q{secrets.token_hex(4)}")
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    lease_seconds: float = 2.0
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PLAIT_DATABASE_URL": self.database_url,
            "PLAIT_REDIS_URL": self.redis_url,
            "PLAIT_QUEUE": self.queue,
            "PLAIT_SECRET_KEY": self.secret_key,
            "PLAIT_LEASE_SECONDS": str(self.lease_seconds),
            "PLAIT_HOME": str(self.home),
            "PYTHONPATH": str(ROOT),
        }

    def connect(self) -> rt.Client:
        return rt.connect(
            self.database_url,
            redis_url=self.redis_url,
            queue=self.queue,
            secret_key=self.secret_key,
            lease_seconds=self.lease_seconds,
            home=self.home,
        )

    def start_worker(self, processes: int = 1, concurrency: int = 16) -> subprocess.Popen:
        log = self.home / f"worker-{len(self.workers)}.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runtime.cli",
                "worker",
                "--processes",
                str(processes),
                "--concurrency",
                str(concurrency),
                "--shutdown-wait",
                "2",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log = log  # type: ignore[attr-defined]
        self.workers.append(proc)
        deadline = time.monotonic() + 60
        while log.read_text().count("Listening started") < processes:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        return proc

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@contextmanager
def cluster(database_url: str, redis_url: str, home: Path, **options: object) -> Iterator[Cluster]:
    c = Cluster(database_url, redis_url, home, **options)  # type: ignore[arg-type]
    try:
        yield c
    finally:
        c.stop()


def wait_for(condition, timeout: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{message} not met within {timeout}s"
        time.sleep(0.02)
