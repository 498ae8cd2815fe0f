"""Streamed LLM text as a live view holds it (the studio's run page, the notebook view):
``node.tokens`` events, never stored, folded per node and attempt whatever order they come in
relative to the attempt's stored events, and dropped when the attempt ends, when its
checkpointed output is what to show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.events import TOKENS
from runtime.statuses import NODE_OPEN

MAX_CHARS = 100_000
"""Characters of a node's streamed text kept (its end): the output has all of it."""


@dataclass
class StreamedText:
    limit: int = MAX_CHARS
    text: dict[str, str] = field(default_factory=dict)
    """Node -> what its running attempt has streamed so far."""
    attempts: dict[str, int] = field(default_factory=dict)
    """Node -> the attempt its ``text`` belongs to."""
    ended: dict[str, int] = field(default_factory=dict)
    """Node -> its last attempt that ended: text still arriving for it is stale."""
    closed: bool = False
    """The run has ended: nothing streams until it is retried."""

    def add(self, event: Mapping[str, Any]) -> bool:
        """Fold in one ``TOKENS`` event (others are ignored); returns whether text grew."""
        node, data = event.get("node"), event.get("data") or {}
        if event.get("type") != TOKENS or not node or self.closed:
            return False
        attempt = int(data.get("attempt") or 1)
        if attempt <= self.ended.get(node, 0):
            return False  # late text of an attempt that has ended
        if self.attempts.get(node) != attempt:
            self.text[node], self.attempts[node] = "", attempt
        self.text[node] = (self.text[node] + str(data.get("text", "")))[-self.limit :]
        return True

    def node_status(self, node: str, status: str, attempt: int) -> bool:
        """A stored node event: a new attempt's text starts afresh, an ended attempt's is
        dropped. Returns whether the node's text went away."""
        had = bool(self.text.get(node))
        if status in NODE_OPEN:
            if self.attempts.get(node, attempt) != attempt:
                self.text.pop(node, None)  # an earlier attempt's
            else:
                return False
        else:
            self.text.pop(node, None)
            self.ended[node] = max(self.ended.get(node, 0), attempt)
        return had

    def close(self) -> set[str]:
        """The run ended; returns the nodes whose text went away."""
        gone = {n for n, t in self.text.items() if t}
        self.text.clear()
        self.closed = True
        return gone

    def restart(self, nodes: Iterable[str]) -> None:
        """The run was retried: these nodes' attempts may count afresh."""
        self.closed = False
        for node in nodes:
            self.ended.pop(node, None)

    def of(self, node: str) -> str:
        return self.text.get(node, "")

    @property
    def streaming(self) -> frozenset[str]:
        """The nodes streaming text now."""
        return frozenset(n for n, t in self.text.items() if t)
