"""Worker processes for the distributed and fault suites: real `plait worker` processes on
a queue of their own, sharing one database and one Redis. Callers hold the signing key;
workers get only its public half, as in a deployment."""

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
from runtime.keys import SigningKey

ROOT = Path(__file__).parent.parent


@dataclass
class Cluster:
    """A store + Redis + queue that callers and workers share."""

    database_url: str
    redis_url: str
    home: Path
    queue: str = field(default_factory=lambda: f"q{secrets.token_hex(4)}")
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    """HMAC key of pickled values: callers and workers."""
    signing_key: str = field(default_factory=lambda: SigningKey.generate().text())
    """Private key that signs published code: callers (and a studio) only."""
    lease_seconds: float = 2.0
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def verify_key(self) -> str:
        """The public half of ``signing_key``: all a worker gets."""
        return SigningKey.parse(self.signing_key, "Cluster.signing_key").public.text()

    def _env(self) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PLAIT_SIGNING_KEY", "PLAIT_VERIFY_KEYS")
        }
        return {
            **inherited,
            "PLAIT_DATABASE_URL": self.database_url,
            "PLAIT_REDIS_URL": self.redis_url,
            "PLAIT_QUEUE": self.queue,
            "PLAIT_SECRET_KEY": self.secret_key,
            "PLAIT_LEASE_SECONDS": str(self.lease_seconds),
            "PLAIT_HOME": str(self.home),
            "PYTHONPATH": str(ROOT),
        }

    @property
    def env(self) -> dict[str, str]:
        """Environment of a caller process (a script, a notebook kernel, a studio)."""
        return {**self._env(), "PLAIT_SIGNING_KEY": self.signing_key}

    @property
    def worker_env(self) -> dict[str, str]:
        """Environment of a worker: public keys only, and a home of its own, so it cannot
        read a key file a caller wrote."""
        return {
            **self._env(),
            "PLAIT_VERIFY_KEYS": self.verify_key,
            "PLAIT_HOME": str(self.home / "worker-home"),
        }

    def connect(self) -> rt.Client:
        return rt.connect(
            self.database_url,
            redis_url=self.redis_url,
            queue=self.queue,
            secret_key=self.secret_key,
            signing_key=self.signing_key,
            lease_seconds=self.lease_seconds,
            home=self.home,
        )

    def start_worker(
        self, processes: int = 1, concurrency: int = 16, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """A ``plait worker`` process group (``env``: extra variables for it alone)."""
        # numbered by how many were started: a test that drops a killed one from ``workers``
        # must not have the next one write over a live worker's log
        log = self.home / f"worker-{len(list(self.home.glob('worker-*.log')))}.log"
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
            env={**self.worker_env, **(env or {})},
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


def children(proc: subprocess.Popen) -> list[int]:
    """Pids of a worker group's child processes (those executing runs)."""
    return [int(p) for p in _read(f"/proc/{proc.pid}/task/{proc.pid}/children").split()]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


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
