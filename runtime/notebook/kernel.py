"""What the kernel this code runs in can do for a person: whether anyone can answer a form."""

from __future__ import annotations

import sys


def unattended() -> bool:
    """Whether this is a notebook kernel that nobody is sitting at: nbconvert, papermill
    and other nbclient runs execute cells with ``allow_stdin`` off, while JupyterLab,
    Notebook and VS Code allow it (``input()`` works there). Outside a kernel: ``False``."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return False
    return not getattr(kernel, "_allow_stdin", True)
