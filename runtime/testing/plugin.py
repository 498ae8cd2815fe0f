"""The pytest plugin (entry point ``pytest11``: ``plait``): a ``plait`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.testing.harness import Kit


@pytest.fixture
def plait(tmp_path: Path) -> Iterator[Kit]:
    """A ``runtime.testing.Kit`` on a SQLite store in the test's ``tmp_path``, closed after
    the test: ``plait.run(g, inputs, answers=..., fakes=..., clock=...)``."""
    kit = Kit(tmp_path / "plait")
    try:
        yield kit
    finally:
        kit.close()
