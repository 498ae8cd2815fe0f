"""A node whose module takes a while to import, as a module pulling in pandas or torch does
on a loaded machine: a child process must import it before the node's code is called."""

from __future__ import annotations

import time

IMPORT_SECONDS = 1.5
time.sleep(IMPORT_SECONDS)


def quick(x: int) -> int:
    return x + 1
