"""Who is logged in, for every page's top bar and for what it offers (the server checks
again on every action)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from studio.states.base import who


class SessionState(rx.State):
    user: str = ""
    role: str = ""
    local: bool = False
    """The single local user of a loopback studio without users: no login, no logout."""

    @rx.var
    def can_write(self) -> bool:
        return self.role in ("editor", "admin")

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    async def load(self) -> Any:
        found = await who(self)
        if found is None:
            self.user, self.role, self.local = "", "", False
            return rx.redirect("/login?ended=1&next=" + self.router.url.path)
        self.user, self.role, self.local = found.actor, found.role, found.kind == "local"
        return None
