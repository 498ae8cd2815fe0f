"""Exit with one line saying how to start PostgreSQL or Redis when a test server is down."""

from __future__ import annotations

import os
import sys

import psycopg
import redis
from sqlalchemy.engine import make_url

HINT = "start it with `docker compose up -d postgres redis` (or your system's service manager)"


def main() -> int:
    pg = os.environ.get(
        "PLAIT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    rd = os.environ.get("PLAIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    libpq = make_url(pg).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(libpq, connect_timeout=3).close()
    except Exception as exc:
        shown = make_url(pg).render_as_string(hide_password=True)
        print(f"PostgreSQL is not reachable at {shown} ({type(exc).__name__}); {HINT}")
        return 1
    try:
        redis.Redis.from_url(rd, socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"Redis is not reachable at {rd} ({type(exc).__name__}); {HINT}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
