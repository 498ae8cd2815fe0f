"""Studio login over plain HTTP: the login page, ``POST /auth/login`` and ``/auth/logout``,
and the guard that sends a browser without a session to the login page.

The session lives server-side (``runtime.auth.sessions``); the browser holds its random token
in a cookie that is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no other site's form
sends it) and ``Secure`` when the studio is reached over https. Logins are rate limited per
account and per address; a locked-out attempt gets exactly the answer of a wrong password.
The page is served by this module, not by the Reflex app, so it paints at once and needs no
script.
"""

from __future__ import annotations

import asyncio
import html
import urllib.parse
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime import audit
from runtime.auth.gate import Gate
from runtime.auth.sessions import COOKIE

LOGIN = "/login"
WRONG = "Wrong name or password."
"""The one answer to a failed login: a wrong password, an unknown or disabled account and a
lock-out all read the same."""

PUBLIC_PREFIXES = ("/login", "/auth/", "/api/", "/r/", "/_event", "/ping", "/_health", "/assets/")
"""Paths the guard leaves alone: the login itself, the API (its own checks), share links,
Reflex's websocket (every handler checks) and health checks, static assets."""

HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Plait</title><style>
body{{font-family:system-ui,-apple-system,sans-serif;background:#f7f7f8;margin:0;display:flex;
min-height:100vh;align-items:center;justify-content:center;color:#1c2024}}
form{{background:#fff;border:1px solid #e0e1e6;border-radius:10px;padding:28px 32px;width:320px;
box-shadow:0 2px 8px rgba(0,0,0,.04)}}
h1{{font-size:20px;margin:0 0 18px}}
label{{display:block;font-size:13px;color:#60646c;margin:12px 0 4px}}
input{{width:100%;box-sizing:border-box;padding:8px 10px;border:1px solid #cdced6;border-radius:6px;
font-size:15px}}button{{margin-top:20px;width:100%;padding:9px;border:0;border-radius:6px;
background:#3e63dd;color:#fff;font-size:15px;cursor:pointer}}
.message{{font-size:14px;margin:0 0 8px;color:#60646c}}.error{{color:#ce2c31}}</style></head>
<body><form method="post" action="/auth/login" id="login-form">
<h1>Plait studio</h1>{message}
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required
 maxlength="64" value="{name}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
 autocomplete="current-password" required maxlength="1024">
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">Log in</button></form></body></html>"""


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(message: str = "", *, error: bool = False, name: str = "", next_: str = "/") -> str:
    css = "message error" if error else "message"
    shown = f'<p class="{css}" id="login-message">{html.escape(message)}</p>' if message else ""
    return _PAGE.format(
        message=shown, name=html.escape(name), next=html.escape(safe_next(next_), quote=True)
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _secure(request: Request, gate: Gate) -> bool:
    public = gate.settings.public_url or ""
    return (
        request.url.scheme == "https"
        or request.headers.get("x-forwarded-proto", "") == "https"
        or public.startswith("https://")
    )


def _same_origin(request: Request) -> bool:
    """A form posted from another site is refused (the cookie's SameSite=Lax covers the
    session; this covers the login itself)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")


def login_app(gate: Callable[[], Gate]) -> Starlette:
    """The ASGI app of ``/login``, ``/auth/login`` and ``/auth/logout``."""

    async def page(request: Request) -> Response:
        g = gate()
        if not await asyncio.to_thread(g.login_required):
            return RedirectResponse("/", status_code=303)
        params = request.query_params
        message = ""
        if params.get("out"):
            message = "You are logged out."
        elif params.get("ended"):
            message = "Your session ended: log in again."
        return HTMLResponse(login_page(message, next_=params.get("next", "/")), headers=HEADERS)

    async def login(request: Request) -> Response:
        g = gate()
        if not _same_origin(request):
            return HTMLResponse(login_page(WRONG, error=True), 403, headers=HEADERS)
        form = await request.form(max_fields=10, max_files=0)
        name = str(form.get("name", ""))[:64]
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "/")))
        address = _address(request)
        principal = await asyncio.to_thread(_check, g, name, password, address)
        if principal is None:
            await asyncio.to_thread(
                audit.record,
                g.store,
                "login",
                actor=name or None,
                address=address,
                outcome="denied",
            )
            return HTMLResponse(
                login_page(WRONG, error=True, name=name, next_=target), 401, headers=HEADERS
            )
        user = await asyncio.to_thread(g.users.get, name)
        token = await asyncio.to_thread(
            g.sessions.create,
            user,
            address=address,
            user_agent=request.headers.get("user-agent"),
        )
        await asyncio.to_thread(audit.record, g.store, "login", actor=name, address=address)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(g.settings.session_max_seconds),
            path="/",
            httponly=True,
            samesite="lax",
            secure=_secure(request, g),
        )
        return response

    async def logout(request: Request) -> Response:
        g = gate()
        token = request.cookies.get(COOKIE)
        if token and _same_origin(request):
            who = await asyncio.to_thread(g.sessions.resolve, token)
            await asyncio.to_thread(g.sessions.revoke, token)
            if who is not None:
                await asyncio.to_thread(
                    audit.record, g.store, "logout", actor=who.actor, address=_address(request)
                )
        response = RedirectResponse(f"{LOGIN}?out=1", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    return Starlette(
        routes=[
            Route(LOGIN, page, methods=["GET"]),
            Route("/auth/login", login, methods=["POST"]),
            Route("/auth/logout", logout, methods=["POST"]),
        ]
    )


def _check(g: Gate, name: str, password: str, address: str) -> object | None:
    """The account if the login may go in; ``None`` otherwise, each way taking one argon2
    verification (a locked-out attempt is not checked, but costs the same)."""
    from runtime.auth import passwords

    if not g.limiter.allowed(name, address):
        passwords.burn()
        return None
    user = g.users.authenticate(name, password)
    if user is None:
        g.limiter.failed(name, address)
        return None
    g.limiter.succeeded(name)
    return user


class PageGuard:
    """ASGI middleware: a page request without a valid session (where logins are needed) is
    sent to the login page, with where it wanted to go."""

    def __init__(self, app: ASGIApp, gate: Callable[[], Gate]) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or _public(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        g = self.gate()
        token = request.cookies.get(COOKIE)
        who = await asyncio.to_thread(g.principal, session=token)
        if who is not None:
            await self.app(scope, receive, send)
            return
        target = scope["path"] + (f"?{request.url.query}" if request.url.query else "")
        query = urllib.parse.urlencode({"next": target, **({"ended": "1"} if token else {})})
        response = RedirectResponse(f"{LOGIN}?{query}", status_code=303)
        if token:
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        await response(scope, receive, send)


def _public(path: str) -> bool:
    last = path.rsplit("/", 1)[-1]
    return path.startswith(PUBLIC_PREFIXES) or "." in last or path.startswith("/_")
