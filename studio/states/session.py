"""Who is logged in, for every page's top bar and for what it offers (the server checks
again on every action)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from studio.logic.nav import section_of
from studio.states.base import who


class SessionState(rx.State):
    user: str = ""
    role: str = ""
    local: bool = False
    """The single local user of a loopback studio without users: no login, no logout."""
    section: str = ""
    """The href of the top-bar link the page in view belongs to (marked as current)."""

    @rx.var
    def can_write(self) -> bool:
        return self.role in ("editor", "admin")

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    async def load(self) -> Any:
        self.section = section_of(self.router.url.path)
        found = await who(self)
        if found is None:
            self.user, self.role, self.local = "", "", False
            return rx.redirect("/login?ended=1&next=" + self.router.url.path)
        self.user, self.role, self.local = found.actor, found.role, found.kind == "local"
        return None
