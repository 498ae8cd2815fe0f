"""Who is asking the REST API, and what the API records about it.

Every ``/api/v1`` operation depends on ``reader``, ``writer`` or ``admin``: the request's
principal comes from ``Authorization: Bearer plait_<id>_<secret>`` (or, for reads, a studio
login's cookie), or is the local user of a loopback studio without users. No valid
credentials: 401, the same answer for a missing, malformed, unknown, expired or revoked key.
A role that does not allow the operation: 403, and nothing changes.

``AuditTrail`` (ASGI middleware) writes one audit entry per state-changing request, allowed
or not: who, what (the operation, or what the route says it did), which, from where, and
how it ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any

import fastapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import audit
from runtime.auth.gate import Gate
from runtime.auth.ratelimit import RequestLimiter
from runtime.auth.roles import Need, Principal, Unauthenticated, require
from runtime.auth.sessions import COOKIE

log = logging.getLogger("plait.api")

UNAUTHENTICATED = (
    "authentication required: send a valid API key as 'Authorization: Bearer plait_<id>_<secret>'"
)
"""The one answer to every kind of bad credentials: it never says which part was wrong."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="plait_<id>_<secret>",
    description="An API key (`plait keys create`, or the studio's API keys page).",
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def principal_dependency(
    gate: Callable[[], Gate], limiter: RequestLimiter | None = None, per_key: str = ""
) -> Callable[..., Any]:
    """The request's principal; with ``limiter``, an API key past ``per_key`` requests is
    answered 429 with ``Retry-After`` (and nothing runs)."""

    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, fastapi.Depends(bearer_scheme)],
    ) -> Principal:
        authorization = request.headers.get("authorization")
        # a login's cookie only reads: a cross-site form cannot make the browser change state
        cookie = request.cookies.get(COOKIE) if request.method in _SAFE_METHODS else None
        found = await asyncio.to_thread(
            gate().principal, authorization=authorization, session=cookie
        )
        if found is None:
            raise Unauthenticated(UNAUTHENTICATED)
        request.state.principal = found
        if limiter is not None and found.kind == "key" and found.key_id is not None:
            wait = await asyncio.to_thread(limiter.hit, "key", found.key_id, per_key)
            if wait is not None:
                raise HTTPException(
                    429,
                    f"too many requests with this API key: retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
        return found

    return principal


def role_dependency(principal: Callable[..., Any], need: Need, action: str) -> Any:
    """A dependency giving the principal, once it may do ``action`` (403 otherwise)."""

    async def allowed(who: Principal = fastapi.Depends(principal)) -> Principal:  # noqa: B008
        require(who, need, action)
        return who

    return fastapi.Depends(allowed)


def note(request: Request, action: str, target: str | None = None, **detail: Any) -> None:
    """What a route did, for the audit entry of its request (names and ids, never values)."""
    request.state.audit = {"action": action, "target": target, "detail": detail}


class AuditTrail:
    """ASGI middleware: an audit entry for every state-changing request under ``prefix``."""

    def __init__(self, app: ASGIApp, gate: Callable[[], Gate], prefix: str) -> None:
        self.app = app
        self.gate = gate
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in _SAFE_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        state = scope.get("state") or {}
        principal: Principal | None = state.get("principal")
        noted: dict[str, Any] = state.get("audit") or {}
        route = scope.get("route")
        template = getattr(route, "path", scope["path"])
        params = scope.get("path_params") or {}
        outcome: audit.Outcome = (
            "ok" if status < 400 else "denied" if status in (401, 403) else "failed"
        )
        try:
            await asyncio.to_thread(
                audit.record,
                self.gate().store,
                noted.get("action") or f"{scope['method']} {template}",
                actor=principal.actor if principal else None,
                target=noted.get("target") or ("/".join(str(v) for v in params.values()) or None),
                address=(scope.get("client") or (None,))[0],
                outcome=outcome,
                detail={**noted.get("detail", {}), "status": status},
            )
        except Exception:  # the answer was sent; a lost entry must not become a 500
            log.exception("could not write the audit entry of %s %s", scope["method"], template)
