"""What a running node can learn about itself: ``rt.current()`` inside a node."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import PlaitError
from runtime.redaction import Redactor

DocumentKind = str
"""``text``, ``markdown``, ``table``, ``image`` or ``json``."""


@dataclass
class NodeContext:
    """The attempt being executed."""

    run_id: str
    node: str
    attempt: int
    """1 for the first attempt; retries and re-runs after a crash count up."""
    logs: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    """Names of the documents this attempt saved."""
    saver: Callable[[str, Any, str], None] | None = None
    """Writes a document (set by the engine): name, content, kind."""
    redactor: Redactor = field(default_factory=Redactor)
    """Applied to every log line before it is kept (the engine gives it the run's known
    secrets; by default the key and pattern rules alone)."""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """The stored secrets this node declared, decrypted for this attempt only."""
    tokens: Callable[[str], None] | None = field(default=None, repr=False)
    """Publishes streamed text (an LLM's tokens) to live followers, storing nothing (set by
    the engine; ``None`` where nothing listens, as in a child process)."""

    def save_document(self, name: str, content: Any, kind: DocumentKind | None = None) -> None:
        """Save a named artifact to the run, shown by the notebook view, studio and report.
        ``kind`` is guessed when omitted: a DataFrame is a table, PNG bytes an image, a string
        markdown or text, other data JSON. Saving a name again replaces it."""
        if self.saver is None:
            raise PlaitError("documents can only be saved from a running node")
        self.saver(name, content, kind or document_kind(content))
        if name not in self.documents:
            self.documents.append(name)

    @property
    def idempotency_key(self) -> str:
        """``run_id:node``: the same for every attempt of this node in this run. Give it to
        an external system that de-duplicates (a payment API, an upsert), so a retry or a
        re-run after a crash does not do the side effect twice."""
        return f"{self.run_id}:{self.node}"

    @property
    def attempt_key(self) -> str:
        """``run_id:node:attempt``: different for each attempt (for logs, or for side
        effects that each attempt must make on its own)."""
        return f"{self.run_id}:{self.node}:{self.attempt}"

    def secret(self, name: str) -> str:
        """The value of a stored secret this node declared (``@g.node(secrets=[name])``)."""
        if name not in self.secrets:
            declared = ", ".join(sorted(self.secrets)) or "none"
            raise PlaitError(
                f"node {self.node!r} did not declare secret {name!r} (it declares: "
                f"{declared}); add secrets=[{name!r}] to its @g.node(...) to read it"
            )
        return self.secrets[name]

    def log(self, message: str) -> None:
        """Add a line to this attempt's logs (shown with the node in every view)."""
        self.logs.append(f"{time.strftime('%H:%M:%S')} {self.redactor.text(str(message))}")


def document_kind(content: Any) -> DocumentKind:
    """The kind of a document saved without one."""
    if isinstance(content, bytes):
        return "image" if content.startswith(b"\x89PNG") else "text"
    if isinstance(content, str):
        return "markdown"
    if type(content).__module__.startswith("pandas"):
        return "table"
    return "json"


_current: contextvars.ContextVar[NodeContext | None] = contextvars.ContextVar(
    "plait_node", default=None
)


def current() -> NodeContext:
    """The context of the node being executed; raises outside a node."""
    ctx = _current.get()
    if ctx is None:
        raise PlaitError("rt.current() is only available inside a running node")
    return ctx


def secret(name: str) -> str:
    """``rt.secret(name)``: a stored secret the running node declared."""
    return current().secret(name)


def activate(ctx: NodeContext) -> contextvars.Token:
    return _current.set(ctx)


class _NodeLogHandler(logging.Handler):
    """Copies log records emitted inside a node into that node's logs."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = _current.get()
        if ctx is not None:
            line = f"{record.levelname} {record.name}: {record.getMessage()}"
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            ctx.logs.append(f"{stamp} {ctx.redactor.text(line)}")


def install_log_capture() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _NodeLogHandler) for h in root.handlers):
        root.addHandler(_NodeLogHandler())
