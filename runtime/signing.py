"""HMAC-SHA256 signatures for pickled values: only signed bytes are ever unpickled.

Pickled values are written by workers, so every worker holds this key (``PLAIT_SECRET_KEY``).
Code is therefore not signed with it but with Ed25519 (``runtime.codesign``); code signed
under this scheme before that is recognised (``is_signed``) and refused there.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import cloudpickle

from runtime.config import settings
from runtime.errors import SignatureError

_MAGIC = b"PLAIT-HMAC1"
_MAC_SIZE = hashlib.sha256().digest_size


def is_signed(blob: bytes) -> bool:
    """Whether the bytes carry this scheme's header (the signature is not checked)."""
    return blob.startswith(_MAGIC)


def sign(payload: bytes, key: bytes | None = None) -> bytes:
    key = key if key is not None else settings().resolved_secret_key()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return _MAGIC + mac + payload


def verify(blob: bytes, key: bytes | None = None, *, what: str = "payload") -> bytes:
    """Return the payload of a signed blob; raise ``SignatureError`` if unsigned or tampered."""
    key = key if key is not None else settings().resolved_secret_key()
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _MAC_SIZE:
        raise SignatureError(f"{what} is not signed; refusing to load it")
    mac = blob[len(_MAGIC) : len(_MAGIC) + _MAC_SIZE]
    payload = blob[len(_MAGIC) + _MAC_SIZE :]
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise SignatureError(
            f"{what} has a bad signature (tampered, or signed with another PLAIT_SECRET_KEY); "
            "refusing to load it"
        )
    return payload


def dumps_signed(obj: Any, key: bytes | None = None) -> bytes:
    return sign(cloudpickle.dumps(obj), key)


def loads_signed(blob: bytes, key: bytes | None = None, *, what: str = "payload") -> Any:
    return cloudpickle.loads(verify(blob, key, what=what))
