"""The chaos suite: faults injected on private servers (as ``tests/faults`` does), each test
bounded in time. Shared fixtures live here; see ``ledger.py`` for the side-effect ledger."""

from __future__ import annotations

from tests.faults.conftest import private_postgres, private_redis

__all__ = ["private_postgres", "private_redis"]
