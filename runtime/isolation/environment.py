"""The environment a child process starts with: the parent's, without Plait's keys and the
credentials of the store and Redis."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

_CREDENTIALS = re.compile(
    r"^(PLAIT_|PG|REDIS)|DATABASE_UR[LI]|(^|_)DSN$",
    re.IGNORECASE,
)
"""``PLAIT_*`` (the signing key, the store and Redis URLs), libpq's ``PG*`` (``PGPASSWORD``,
``PGPASSFILE``...), ``REDIS*``, and any ``*DATABASE_URL``/``*DATABASE_URI``/``*_DSN``."""


def is_credential(name: str) -> bool:
    return _CREDENTIALS.search(name) is not None


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) minus credentials, with ``PYTHONPATH``
    set to this process's ``sys.path`` so that functions pickled by reference import."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not is_credential(k)}
    paths = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # a killed child's prints would otherwise die in its buffer
    env["PYTHONUNBUFFERED"] = "1"
    return env


_PR_SET_DUMPABLE = 4


def protect_parent() -> bool:
    """Make this process non-dumpable (Linux): a process of the same user, such as a child's
    node code, can then read neither its ``/proc/<pid>/environ`` (the keys it started with)
    nor its memory, nor attach a debugger; nor is a core file written. Root keeps every
    power over its processes: run workers as an ordinary user. Returns whether it applied."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
