"""Login rate limits (``limits``): failed logins are counted per account and per client
address in moving windows; past either limit, attempts are refused exactly like a wrong
password until the window moves on. Counts live in Redis when ``PLAIT_REDIS_URL`` is set (all
studio processes share them), in memory otherwise."""

from __future__ import annotations

from limits import parse
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
