"""What every page state shares: the store connection, the run-level doorbell, and who is
asking (every event handler checks the role on the server: a crafted event from a viewer's
browser changes nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any, TypeVar

import reflex as rx

import runtime as rt
from runtime import audit
from runtime.auth.gate import Gate
from runtime.auth.roles import Need, Principal
from runtime.auth.sessions import COOKIE
from runtime.config import settings
from runtime.events import ALL_RUNS
from runtime.store.tables import EventDict

T = TypeVar("T")

RESYNC_SECONDS = 5.0
"""Lists re-read the store this often without an announcement: runs executed by a process
whose bus this one cannot hear (another embedded process on the same SQLite file)."""


def client() -> rt.Client:
    """The studio process's client (made on first use, after the server forked its worker:
    no connection or thread crosses a fork)."""
    return rt.default_client()


@functools.cache
def gate() -> Gate:
    """The studio process's gate: the local user, or who a session cookie belongs to."""
    return Gate(lambda: client().store, settings())


def session_token(cookie_header: str) -> str | None:
    """The login session's token in a ``Cookie`` header."""
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


async def who(state: rx.State) -> Principal | None:
    """Who sent this event: the session of the websocket's cookie (checked in the store on
    every call, so a logout or a revoked session takes effect at once), or the local user."""
    token = session_token(state.router.headers.cookie)
    return await blocking(gate().principal, session=token)


NEEDED_ROLE = {"read": "viewer", "write": "editor", "admin": "admin"}


async def permitted(
    state: rx.State, need: Need, action: str, *, target: str | None = None
) -> tuple[Principal | None, str]:
    """``(principal, "")`` when the sender may do ``action``; else ``(None, why)``, and a
    refused change is written to the audit log."""
    found = await who(state)
    if found is not None and found.may(need):
        return found, ""
    if need != "read":
        await blocking(
            audit.record,
            client().store,
            action,
            actor=found.actor if found else None,
            target=target,
            address=state.router.session.client_ip,
            outcome="denied",
        )
    if found is None:
        return None, "your session ended: log in again"
    return (
        None,
        f"not allowed: {action} takes the {NEEDED_ROLE[need]} role (you are a {found.role})",
    )


async def record(
    state: rx.State, who_: Principal, action: str, target: str | None = None, **detail: Any
) -> None:
    """An allowed change, in the audit log."""
    await blocking(
        audit.record,
        client().store,
        action,
        actor=who_.actor,
        target=target,
        address=state.router.session.client_ip,
        detail=detail,
    )


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@contextlib.asynccontextmanager
async def doorbell() -> AsyncIterator[Callable[[float], Any]]:
    """Rings when the bus announces a run-level event of any run. Yields ``wait(timeout)``,
    which returns once it rang (or the timeout passed) and re-arms it; rings during a
    reload are kept, so none is lost."""
    loop = asyncio.get_running_loop()
    rang = asyncio.Event()

    def on_events(batch: list[EventDict]) -> None:
        del batch
        with contextlib.suppress(RuntimeError):  # the loop closed as the server stopped
            loop.call_soon_threadsafe(rang.set)

    unsubscribe = client().bus.subscribe(ALL_RUNS, on_events)

    async def wait(timeout: float) -> bool:
        try:
            await asyncio.wait_for(rang.wait(), timeout)
        except TimeoutError:
            return False
        rang.clear()
        return True

    try:
        yield wait
    finally:
        unsubscribe()
