"""Exceptions users see. Each message names the graph, node or field that is wrong."""

from __future__ import annotations


class PlaitError(Exception):
    """Base class of every error Plait raises on purpose."""


class GraphError(PlaitError):
    """The graph is invalid: a cycle, a duplicate or unknown name, a bad schema."""


class InputError(PlaitError):
    """Run inputs do not match what the graph needs."""


class PayloadError(PlaitError):
    """A resume payload does not match the wait node's schema. The run keeps waiting."""

    def __init__(self, node: str, errors: list[dict]) -> None:
        self.node = node
        self.errors = errors
        lines = [
            f"  {'.'.join(str(p) for p in e.get('loc', ())) or '(payload)'}: {e.get('msg')}"
            for e in errors
        ]
        super().__init__(f"payload for wait node {node!r} is invalid:\n" + "\n".join(lines))


class OptionError(PlaitError):
    """A setting given on a command line or a form is not one Plait understands."""


class CodecError(PlaitError):
    """A value cannot be stored."""


class SignatureError(PlaitError):
    """Shipped code is unsigned or its signature does not match: it is not executed."""


class RunStateError(PlaitError):
    """The operation does not fit the run's current status (e.g. resuming a finished run)."""


class NotFound(PlaitError):
    """No run, node or workflow with that name or id."""


class StoreUnavailable(PlaitError):
    """The database cannot be reached just now (or refused for a transient reason); the
    operation did not happen and may be tried again."""


class CodeUnavailable(PlaitError):
    """A version's code cannot be loaded in this process (a module that does not import here,
    a signing key this process does not have). Runs of it are left for a process that can."""
