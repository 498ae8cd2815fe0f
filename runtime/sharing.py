"""Share links: a read-only page of one run at ``/r/<token>``, for people without an account.

Tokens carry 192 random bits and only their SHA-256 is stored. A revoked, expired or unknown
token gets the same plain page, so a link tells nothing about whether a run exists. The page
is the run's report, kept live while the run moves (server-sent events), with no actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from runtime import report
from runtime.client import Client, default_client
from runtime.errors import NotFound, OptionError
from runtime.events import EventDict
from runtime.store.tables import utcnow

PREFIX = "/r"
RENDERED_PAGES = 8
"""Share pages kept rendered (a big run's page is a few MB); the least recently shown goes."""

TOKEN_RECHECK = 0.5
"""Seconds between checks of an open event stream's token: a revoked link stops delivering
within a second."""

POLICY = report.CONTENT_SECURITY_POLICY + "; connect-src 'self'"
"""The report's own Content-Security-Policy, plus its live updates from this page's address."""
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",  # the token is in the address
    "Content-Security-Policy": POLICY,
}

INVALID_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Link no longer valid</title></head><body style="font-family:system-ui;margin:3rem">
<h1>This link is no longer valid</h1><p>Ask whoever shared it for a new one.</p></body></html>"""

_LIVE_SCRIPT = """<script>
(() => {
  // events after the one this page shows, so none that happen while it loads is missed
  const after = document.body.dataset.seq;
  const source = new EventSource(location.pathname.replace(/\\/$/, '') + '/events?after=' + after);
  let pending = null;
  const refresh = async () => {
    pending = null;
    const page = await fetch(location.pathname, {cache: 'no-store'});
    if (!page.ok && page.status !== 404) { source.close(); return; }
    const doc = new DOMParser().parseFromString(await page.text(), 'text/html');
    // revoked or expired: the page becomes the "no longer valid" page
    if (page.status === 404) { source.close(); document.body.replaceWith(doc.body); return; }
    // scripts in a parsed body do not run: the first plotly figure needs a real load
    if (doc.getElementById('plotly-js') && !window.plaitDrawFigures) { location.reload(); return; }
    const live = doc.querySelector('[data-live="true"]') !== null;  // asked before the body moves
    document.body.replaceWith(doc.body);
    window.plaitDrawFigures?.();
    if (!live) source.close();
  };
  source.onmessage = () => { if (!pending) pending = setTimeout(refresh, 150); };
  source.addEventListener('end', () => { source.close(); refresh(); });
})();
</script>"""


@dataclass(frozen=True)
class ShareLinkInfo:
    """A link as its owner sees it (never the token itself, which is not stored)."""

    id: int
    run_id: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: str | None

    @property
    def state(self) -> Literal["active", "revoked", "expired"]:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"

    @property
    def active(self) -> bool:
        return self.state == "active"


_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_LIFETIME = dt.timedelta(days=3650)


def parse_lifetime(text: str) -> dt.timedelta | None:
    """``30m``, ``12h`` or ``7d`` as a lifetime; empty or ``never`` means until revoked."""
    text = text.strip().lower()
    if text in ("", "never"):
        return None
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not (number.isascii() and number.isdigit()) or int(number) == 0:
        raise OptionError(f"link lifetime {text!r}: use a number and m, h or d (e.g. 7d), or never")
    seconds = int(number) * _UNITS[unit]
    if seconds > MAX_LIFETIME.total_seconds():
        raise OptionError(f"link lifetime {text!r}: at most {MAX_LIFETIME.days}d, or never")
    return dt.timedelta(seconds=seconds)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(
    run_id: str,
    *,
    expires_in: dt.timedelta | None = None,
    created_by: str | None = None,
    client: Client | None = None,
) -> tuple[str, str]:
    """A new link for a run: returns ``(token, path)``. The token is shown once."""
    client = client or default_client()
    token = secrets.token_urlsafe(24)
    client.store.create_share_link(
        run_id,
        _hash(token),
        expires_at=utcnow() + expires_in if expires_in else None,
        created_by=created_by,
    )
    return token, f"{PREFIX}/{token}"


def list_links(run_id: str, *, client: Client | None = None) -> list[ShareLinkInfo]:
    client = client or default_client()
    return [
        # a stored row always has its id (the model types it optional for inserts)
        ShareLinkInfo(r.id, r.run_id, r.created_at, r.expires_at, r.revoked_at, r.created_by)  # type: ignore[arg-type]
        for r in client.store.share_links(run_id)
    ]


def revoke_link(link_id: int, *, run_id: str | None = None, client: Client | None = None) -> None:
    """Revoke a link for good; with ``run_id``, only if it is a link of that run."""
    client = client or default_client()
    if not client.store.revoke_share_link(link_id, run_id=run_id):
        raise NotFound(f"no active share link with id {link_id}")


def resolve(token: str, *, client: Client | None = None) -> str | None:
    """The run a valid token opens, or ``None`` (unknown, revoked or expired alike)."""
    client = client or default_client()
    link = client.store.share_link(_hash(token))
    if link is None:
        return None
    if link.revoked_at is not None or (link.expires_at is not None and link.expires_at <= utcnow()):
        return None
    return link.run_id


def share_app(client: Client | None = None) -> Starlette:
    """The ASGI app serving ``/r/<token>`` and its event stream; mount it at the root."""

    def current() -> Client:
        return client or default_client()

    rendered: OrderedDict[tuple[str, int], str] = OrderedDict()
    """Pages by (run, last event): every viewer of a moving run refreshes on the same event,
    and a big run's report takes a fifth of a second to render."""

    lock = threading.Lock()

    def render(run_id: str) -> str:
        # read before rendering: what happens meanwhile comes as events after this number
        seq = current().store.last_seq(run_id)
        with lock:
            html = rendered.get((run_id, seq))
            if html is not None:
                rendered.move_to_end((run_id, seq))
                return html
        html = report.render(current().get_run(run_id), policy=POLICY)
        if 'data-live="true"' in html:
            html = html.replace("<body>", f'<body data-seq="{seq}">', 1)
            html = html.replace("</body>", _LIVE_SCRIPT + "</body>")
        with lock:
            rendered[(run_id, seq)] = html
            while len(rendered) > RENDERED_PAGES:
                rendered.popitem(last=False)
        return html

    async def page(request: Request) -> Response:
        run_id = await asyncio.to_thread(resolve, request.path_params["token"], client=current())
        if run_id is None:
            return HTMLResponse(INVALID_PAGE, status_code=404)
        html = await asyncio.to_thread(render, run_id)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    async def events(request: Request) -> Response:
        run_id = await asyncio.to_thread(resolve, request.path_params["token"], client=current())
        if run_id is None:
            return HTMLResponse(INVALID_PAGE, status_code=404)
        run = current().get_run(run_id)
        after = request.query_params.get("after", "")
        if after.isdigit():
            seen = int(after)
        else:
            seen = await asyncio.to_thread(current().store.last_seq, run_id)

        token = request.path_params["token"]

        async def still_valid() -> bool:
            return await asyncio.to_thread(resolve, token, client=current()) == run_id

        async def stream() -> AsyncIterator[str]:
            async for event in _checked(run.aevents(after=seen, stop_at_end=True), still_valid):
                if event is None:  # revoked or expired meanwhile: the page reloads into 404
                    break
                # only what changed, never values: the page re-reads itself
                yield f"data: {json.dumps({'type': event['type'], 'node': event['node']})}\n\n"
            yield "event: end\ndata: {}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers=STREAM_HEADERS)

    return Starlette(
        routes=[
            Route(PREFIX + "/{token}", page),
            Route(PREFIX + "/{token}/events", events),
        ]
    )


async def _checked(
    events: AsyncIterator[EventDict], still_valid: Callable[[], Awaitable[bool]]
) -> AsyncIterator[EventDict | None]:
    """The events, while the link stays valid: its token is checked again every
    ``TOKEN_RECHECK`` seconds, waiting or not; ``None`` (then the end) once it is not."""
    pending: asyncio.Task[EventDict] | None = None
    checked = time.monotonic()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            left = TOKEN_RECHECK - (time.monotonic() - checked)
            done, _ = await asyncio.wait({pending}, timeout=max(left, 0))
            if time.monotonic() - checked >= TOKEN_RECHECK:
                checked = time.monotonic()
                if not await still_valid():
                    yield None
                    return
            if not done:
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield event
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        await events.aclose()  # type: ignore[attr-defined]
