"""Settings: the one place that reads ``PLAIT_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration, read from ``PLAIT_<FIELD>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="PLAIT_", extra="ignore")

    home: Path = Field(default=Path(".plait"))
    """Directory for embedded state: the SQLite file and the generated keys."""

    database_url: str | None = None
    """SQLAlchemy URL of the store; ``None`` means ``sqlite:///<home>/plait.db``."""

    database_pooler: Literal["none", "transaction"] = "none"
    """``transaction`` when ``database_url`` points at a pooler in transaction mode
    (PgBouncer's ``pool_mode = transaction``), where consecutive transactions of one client
    may run on different server sessions: no statement is prepared on the server, and
    leaderships are lease rows instead of session-level advisory locks."""

    redis_url: str | None = None
    """Redis URL; when set, runs go to Taskiq workers and events to Redis pub/sub."""

    local_bus: Literal["sockets", "process"] = "sockets"
    """Without Redis, how processes on one SQLite store hear each other's events: ``sockets``
    through UNIX datagram sockets in ``<database file>-bus/`` (a run in a notebook shows in
    ``plait studio`` at once); ``process``: announcements stay in the process, and others see
    them by re-reading the table each second. Platforms without UNIX datagram sockets, and
    stores that are no local file, always behave as ``process``."""

    queue: str = "plait"
    """Redis stream (and consumer group) that carries run passes to workers."""

    secret_key: SecretStr | None = None
    """HMAC key that signs pickled values (workers write them, so workers hold it); generated
    into ``<home>/secret_key`` when unset."""

    signing_key: SecretStr | None = None
    """Private Ed25519 key (``plait-sk-...``) that signs published code: callers and the
    studio hold it, workers never do. With neither this nor ``verify_keys`` set it is
    ``<home>/signing_key``, generated on the first publish to a store that has no signed
    versions (see ``runtime.keys``)."""

    verify_keys: Annotated[tuple[str, ...], NoDecode] = ()
    """Public keys (``plait-pk-...``, comma-separated) whose signed code this process runs,
    besides the public half of ``signing_key``. Workers get only these."""

    lease_seconds: float = 30.0
    """How long a worker owns a run without renewing; a dead worker's run moves after this."""

    node_concurrency: int = 8
    """How many ready nodes of one run execute at the same time."""

    worker_concurrency: int = 16
    """How many runs one worker process advances at the same time."""

    spread: Literal["auto", "off"] = "auto"
    """Whether a pass in a worker hands ready nodes beyond ``spread_keep`` to other worker
    processes, each as its own Taskiq message (``auto``: whenever Redis carries the runs;
    ``off``: every node of a run executes in the process advancing it)."""

    spread_keep: int | None = Field(default=None, ge=0)
    """How many ready nodes of a run the pass advancing it executes itself before handing
    more out (``None``: ``node_concurrency``; ``0``: the pass only coordinates)."""

    spread_max: int = Field(default=256, ge=0)
    """How many nodes of one run may be handed out (sent, not yet finished) at a time."""

    isolation: Literal["thread", "process"] = "thread"
    """Where node code runs unless a node or graph says otherwise: ``thread`` (in this
    process) or ``process`` (a child process per attempt: killed on timeout or cancel, holds
    no keys; see the README's threat model)."""

    fault_pause: str | None = None
    """For fault tests only: ``point:seconds[,point:seconds]`` pauses a pass at the named
    points of ``runtime.faults`` (e.g. ``acquired:0.8``). Unset, nothing is paused."""

    inline_limit: int = 16_384
    """Encoded values up to this many bytes live in the node row; larger ones in the blob table."""

    max_request_bytes: int = Field(default=10_000_000, gt=0)
    """The largest request body the REST API and share pages accept (10 MB); a larger one is
    answered 413 before it is read."""

    public_url: str | None = None
    """The studio's address as people reach it (``https://plait.example.com``): share links
    made outside the studio (``plait share``) are printed with it; an ``https`` address also
    marks session cookies ``Secure`` behind a proxy that speaks plain HTTP to the studio."""

    auth: Literal["on", "off"] | None = None
    """Login for the studio and the REST API. Unset: required as soon as a user exists, and
    without users only a studio listening on a loopback address runs, as one local user.
    ``on``: always required. ``off``: nobody logs in (loopback only; refused elsewhere)."""

    studio_host: str = "127.0.0.1"
    """The address the studio listens on (``plait studio --host`` sets it for the server):
    without users, only a loopback address may serve the single local user."""

    session_idle_seconds: float = Field(default=8 * 3600, gt=0)
    """A studio session unused for this long ends (8 hours)."""

    session_max_seconds: float = Field(default=7 * 86400, gt=0)
    """A studio session ends this long after its login, used or not (7 days)."""

    login_limit_account: str = "5 per 15 minutes"
    """Failed logins allowed per account (``limits`` notation); past it, every attempt on that
    account is refused like a wrong password until the window moves on."""

    login_limit_address: str = "30 per 15 minutes"
    """Failed logins allowed per client address, whatever the account."""

    webhook_max_bytes: int = Field(default=1_000_000, gt=0)
    """The largest webhook body an endpoint accepts unless it sets its own (1 MB); larger
    ones are answered 413 and start nothing."""

    webhook_tolerance_seconds: float = Field(default=300, gt=0)
    """How far a Standard Webhooks ``webhook-timestamp`` may be from now (5 minutes)."""

    webhook_rate_limit: str = "600 per minute"
    """Requests allowed per webhook endpoint (``limits`` notation) unless it sets its own;
    past it, 429 with ``Retry-After``. Counted in Redis when set (all studio processes)."""

    api_key_rate_limit: str = "1200 per minute"
    """Requests allowed per API key on ``/api/v1``; past it, 429 with ``Retry-After``."""

    encryption_key: SecretStr | None = None
    """Fernet keys (comma-separated, newest first) that encrypt stored secrets: the first
    encrypts, every one decrypts (``plait secrets rotate`` re-encrypts with the first). Unset:
    ``<home>/encryption_key``, generated by the first ``plait secrets set`` on a store without
    secrets. Separate from every signing key."""

    api_url: str | None = None
    """A remote studio's address (``https://plait.example.com``): with ``api_key``, the SDK
    and the CLI drive it through its REST API instead of a database."""

    api_key: SecretStr | None = None
    """The API key (``plait_<id>_<secret>``) the remote SDK and CLI send."""

    @field_validator(
        "login_limit_account", "login_limit_address", "webhook_rate_limit", "api_key_rate_limit"
    )
    @classmethod
    def _check_limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is no rate limit (e.g. '5 per 15 minutes')") from exc
        return value

    @field_validator("verify_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'plait.db'}"

    def resolved_secret_key(self) -> bytes:
        """The pickle key; embedded installs get a random one, kept private in ``home``."""
        existing = self.existing_secret_key()
        if existing is not None:
            return existing
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def existing_secret_key(self) -> bytes | None:
        """The pickle key if one is set or was generated; never generates one."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.home / "secret_key"
        return path.read_text().strip().encode() if path.exists() else None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
