"""The gate: whether a server runs as the single local user or requires a login, and who a
request's credentials (an API key, a session cookie) belong to.

- ``PLAIT_AUTH`` unset: a login is required as soon as one user exists. Without users, only a
  studio listening on a loopback address runs, as the one local user (an admin).
- ``PLAIT_AUTH=on``: a login is always required (and a studio without users does not start).
- ``PLAIT_AUTH=off``: nobody logs in; allowed on a loopback address only.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from functools import cached_property

from runtime.auth.apikeys import ApiKeys
from runtime.auth.ratelimit import LoginLimiter
from runtime.auth.roles import LOCAL, Principal
from runtime.auth.sessions import Clock, Sessions
from runtime.auth.users import Users
from runtime.config import Settings
from runtime.errors import PlaitError
from runtime.store import Store
from runtime.store.tables import utcnow

USERS_CACHE_SECONDS = 2.0
"""How long "are there users?" is remembered: the first account turns login on within this."""

FIRST_USER = (
    "create the first user with `plait users add NAME --role admin` (the password comes from "
    "a prompt, or from stdin with --password-stdin), then start the studio again"
)


class AuthRefused(PlaitError):
    """The studio must not start as configured (it would be open to the network)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def startup_line(settings: Settings, users_exist: bool) -> str:
    """What a starting studio says about logins; ``AuthRefused`` when it must not start."""
    host = settings.studio_host
    loopback = is_loopback(host)
    if settings.auth == "off":
        if not loopback:
            raise AuthRefused(
                f"PLAIT_AUTH=off lets anyone in without a login, so it is only allowed on a "
                f"loopback address, not {host}: unset PLAIT_AUTH and {FIRST_USER}"
            )
        return "no login (PLAIT_AUTH=off): whoever reaches this address is the local user"
    if not users_exist:
        if settings.auth == "on" or not loopback:
            why = "PLAIT_AUTH=on" if settings.auth == "on" else f"listening on {host}"
            raise AuthRefused(f"{why} needs a login, and there are no users yet: {FIRST_USER}")
        return (
            "no users yet: you are the single local user (admin); "
            "`plait users add NAME --role admin` turns on login"
        )
    return "login required (users and API keys)"


class Gate:
    """Credentials -> ``Principal`` for one server process."""

    def __init__(
        self, store: Callable[[], Store], settings: Settings, *, clock: Clock = utcnow
    ) -> None:
        self._store = store
        self.settings = settings
        self.clock = clock
        self._users_at = -1e9
        self._users_exist = False
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        return self._store()

    @property
    def users(self) -> Users:
        return Users(self.store)

    @property
    def sessions(self) -> Sessions:
        return Sessions(
            self.store,
            idle_seconds=self.settings.session_idle_seconds,
            max_seconds=self.settings.session_max_seconds,
            clock=self.clock,
        )

    @property
    def keys(self) -> ApiKeys:
        return ApiKeys(self.store, clock=self.clock)

    @cached_property
    def limiter(self) -> LoginLimiter:
        return LoginLimiter(
            self.settings.login_limit_account,
            self.settings.login_limit_address,
            redis_url=self.settings.redis_url,
        )

    # -- the mode --------------------------------------------------------------------------

    def users_exist(self) -> bool:
        with self._lock:
            if time.monotonic() - self._users_at < USERS_CACHE_SECONDS:
                return self._users_exist
        exist = self.users.any_active()
        with self._lock:
            self._users_exist, self._users_at = exist, time.monotonic()
        return exist

    def forget_users(self) -> None:
        """Users were added or changed here: ask the store again next time."""
        with self._lock:
            self._users_at = -1e9

    def local(self) -> Principal | None:
        """The local user, when this server runs without logins; else ``None``."""
        if not is_loopback(self.settings.studio_host) or self.settings.auth == "on":
            return None
        if self.settings.auth == "off" or not self.users_exist():
            return LOCAL
        return None

    def login_required(self) -> bool:
        return self.local() is None

    # -- credentials -----------------------------------------------------------------------

    def bearer(self, authorization: str) -> Principal | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return self.keys.authenticate(token.strip())

    def session(self, token: str | None) -> Principal | None:
        return self.sessions.resolve(token)

    def principal(
        self, *, authorization: str | None = None, session: str | None = None
    ) -> Principal | None:
        """Who is asking: the key of an ``Authorization`` header (an invalid one is nobody,
        even where no login is needed), else the session, else the local user if this
        server has one."""
        if authorization:
            return self.bearer(authorization)
        if session:
            found = self.session(session)
            if found is not None:
                return found
        return self.local()
