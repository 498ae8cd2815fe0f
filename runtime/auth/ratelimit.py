"""Rate limits (``limits``). Logins: failed logins are counted per account and per client
address in moving windows; past either limit, attempts are refused exactly like a wrong
password until the window moves on. Requests: each API key's and each webhook endpoint's
requests are counted (``RequestLimiter``); past the limit they get 429 with ``Retry-After``.
Counts live in Redis when ``PLAIT_REDIS_URL`` is set (all studio processes share them), in
memory otherwise."""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

NAMESPACE = "plait-login"


class LoginLimiter:
    def __init__(self, per_account: str, per_address: str, *, redis_url: str | None = None) -> None:
        self.per_account = parse(per_account)
        self.per_address = parse(per_address)
        self.storage: Storage = (
            storage_from_string(redis_url) if redis_url else MemoryStorage()  # type: ignore[assignment]
        )
        self.limiter = MovingWindowRateLimiter(self.storage)

    def allowed(self, account: str, address: str) -> bool:
        """Whether an attempt on ``account`` from ``address`` may be checked at all."""
        return self.limiter.test(
            self.per_account, NAMESPACE, "account", account
        ) and self.limiter.test(self.per_address, NAMESPACE, "address", address)

    def failed(self, account: str, address: str) -> None:
        self.limiter.hit(self.per_account, NAMESPACE, "account", account)
        self.limiter.hit(self.per_address, NAMESPACE, "address", address)

    def succeeded(self, account: str) -> None:
        """A right password clears the account's count (not the address's)."""
        self.limiter.clear(self.per_account, NAMESPACE, "account", account)


REQUESTS = "plait-requests"


@lru_cache(maxsize=256)
def _parsed(limit: str) -> RateLimitItem:
    return parse(limit)


class RequestLimiter:
    """Requests per caller (an API key, a webhook endpoint) in moving windows."""

    def __init__(self, *, redis_url: str | None = None) -> None:
        self.storage: Storage = (
            storage_from_string(redis_url) if redis_url else MemoryStorage()  # type: ignore[assignment]
        )
        self.limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, kind: str, key: str, limit: str) -> int | None:
        """Count one request of ``key``; ``None`` when allowed, else the whole seconds to
        wait before one is allowed again (``Retry-After``)."""
        item = _parsed(limit)
        if self.limiter.hit(item, REQUESTS, kind, key):
            return None
        reset = self.limiter.get_window_stats(item, REQUESTS, kind, key).reset_time
        return max(1, math.ceil(reset - time.time()))
