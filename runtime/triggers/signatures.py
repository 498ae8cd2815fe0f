"""Webhook signatures: the Standard Webhooks scheme and GitHub's ``X-Hub-Signature-256``.

Standard Webhooks: ``webhook-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>`` of
``"{webhook-id}.{webhook-timestamp}.{body}"`` under the key ``whsec_<base64>`` names; a
timestamp further than the tolerance from now is refused. GitHub: ``sha256=<hex HMAC-SHA256 of
the body>`` under the secret's text, no timestamp. Every comparison is constant-time, and a
request is valid when any signature matches any of the endpoint's current secrets (so a
rotation's overlap lets old and new secrets both work).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from runtime.store.tables import WebhookMode

TOLERANCE_SECONDS = 5 * 60
"""How far a ``webhook-timestamp`` may be from now, either way (the scheme's default)."""
PREFIX = "whsec_"

Outcome = Literal["valid", "missing", "invalid", "stale"]


@dataclass(frozen=True)
class Check:
    """What a request's signature check found."""

    verdict: Outcome
    message_id: str | None
    """``webhook-id`` or ``X-GitHub-Delivery``: the idempotency key."""
    reason: str
    """Why it was refused (said to the sender; never names a secret)."""


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key a Standard Webhooks secret names (the bytes its base64 part encodes)."""
    text = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value a sender puts on ``body``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_github(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub puts on ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(
    mode: WebhookMode,
    secrets_: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> Check:
    """Check a request's signature against each of ``secrets_``; ``headers`` keys are
    lower-case."""
    if mode == "github":
        return _verify_github(secrets_, headers, body)
    message_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    given = headers.get("webhook-signature")
    if not message_id or not stamp or not given:
        return Check(
            "missing",
            message_id,
            "the request is not signed: webhook-id, webhook-timestamp and webhook-signature "
            "headers are required",
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        return Check("invalid", message_id, "webhook-timestamp is not a whole number of seconds")
    if abs(now - timestamp) > tolerance:
        return Check(
            "stale",
            message_id,
            f"webhook-timestamp is more than {int(tolerance)} seconds away from now",
        )
    offered = [
        part.split(",", 1)[1].encode()
        for part in given.split()
        if part.startswith("v1,") and "," in part
    ]
    for secret in secrets_:
        expected = sign(secret, message_id, timestamp, body).split(",", 1)[1].encode()
        # every candidate is compared, so timing does not tell which one matched
        if any(hmac.compare_digest(expected, o) for o in offered):
            return Check("valid", message_id, "")
    return Check("invalid", message_id, "no webhook-signature matches the endpoint's secret")


def _verify_github(secrets_: Sequence[str], headers: Mapping[str, str], body: bytes) -> Check:
    message_id = headers.get("x-github-delivery")
    given = headers.get("x-hub-signature-256")
    if not given or not message_id:
        return Check(
            "missing",
            message_id,
            "the request is not signed: X-Hub-Signature-256 and X-GitHub-Delivery headers "
            "are required",
        )
    for secret in secrets_:
        if hmac.compare_digest(sign_github(secret, body).encode(), given.encode()):
            return Check("valid", message_id, "")
    return Check("invalid", message_id, "X-Hub-Signature-256 does not match the endpoint's secret")
