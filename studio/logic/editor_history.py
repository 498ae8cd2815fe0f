"""Undo and redo for the editor: a bounded stack of whole documents.

Documents are small JSON (a 200-node workflow is some tens of kB), so keeping each state
whole is simpler and safer than recording inverse edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIMIT = 100
"""Edits that can be undone; older ones are dropped."""


@dataclass
class History:
    present: dict[str, Any]
    past: list[dict[str, Any]] = field(default_factory=list)
    """Earlier documents, the latest last."""
    future: list[dict[str, Any]] = field(default_factory=list)
    """Undone documents, the next redo last."""
    limit: int = LIMIT

    def record(self, doc: dict[str, Any]) -> bool:
        """Make ``doc`` the present; an unchanged document records nothing. A new edit
        clears what could be redone. Returns whether it changed."""
        if doc == self.present:
            return False
        self.past.append(self.present)
        del self.past[: -self.limit]
        self.present = doc
        self.future.clear()
        return True

    def undo(self) -> bool:
        if not self.past:
            return False
        self.future.append(self.present)
        self.present = self.past.pop()
        return True

    def redo(self) -> bool:
        if not self.future:
            return False
        self.past.append(self.present)
        self.present = self.future.pop()
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self.past)

    @property
    def can_redo(self) -> bool:
        return bool(self.future)
