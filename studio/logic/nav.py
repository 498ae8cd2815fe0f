"""Which top-bar link the page in view belongs to."""

from __future__ import annotations

SECTIONS: tuple[tuple[str, str], ...] = (
    ("/runs", "/runs"),
    ("/compare", "/runs"),
    ("/waiting", "/runs"),
    ("/schedules", "/schedules"),
    ("/editor", "/editor"),
    ("/settings", "/settings/users"),
    ("/workflows", "/"),
)
"""Path prefix -> the nav link's href; a run's page and the comparison belong to Runs."""


def section_of(path: str) -> str:
    """The href of the nav link to mark for ``path`` (``/`` for the workflow list)."""
    path = "/" + path.split("?", 1)[0].strip("/")
    for prefix, href in SECTIONS:
        if path == prefix or path.startswith(prefix + "/"):
            return href
    return "/" if path == "/" else ""
