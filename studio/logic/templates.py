"""What the empty workflows page offers a newcomer: the gallery's templates
(``runtime.gallery``), opened as a draft in the editor, and the lines that publish a graph
from a notebook."""

from __future__ import annotations

from collections.abc import Collection

from runtime import gallery

PUBLISH_SNIPPET = """import runtime as rt
client = rt.connect()       # this studio's store (PLAIT_DATABASE_URL)
client.publish(graph)       # any rt.Graph of yours: it appears here"""
"""The three lines that publish a graph from a notebook."""


def starters() -> list[gallery.Template]:
    """The gallery, as the page lists it (by category, then title)."""
    return sorted(gallery.templates(), key=lambda t: (t.category, t.title))


def free_name(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... the first no workflow has: using a template
    twice gives a second workflow, never an error."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
