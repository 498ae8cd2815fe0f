"""HMAC-SHA256 signatures for pickled values: only signed bytes are ever unpickled.

Pickled values are written by workers, so every worker holds this key (``PLAIT_SECRET_KEY``).
Code is therefore not signed with it but with Ed25519 (``runtime.codesign``); code signed
under this scheme before that is recognised (``is_signed``) and refused there.

A blob is ``PLAIT-HMAC2:``, the key's id (16 hex characters of a hash of the key: it names
the key without revealing it), the MAC and the pickle; the MAC covers all before it. A value
signed with another key is told apart from a forged one (``UnknownPickleKey``). Blobs of the
first format (``PLAIT-HMAC1``, no id) still verify.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import cloudpickle

from runtime.config import settings
from runtime.errors import SignatureError, UnknownPickleKey

_MAGIC = b"PLAIT-HMAC1"
_MAGIC2 = b"PLAIT-HMAC2:"
_ID_SIZE = 16
_MAC_SIZE = hashlib.sha256().digest_size
KEYS_COME_FROM = (
    "Pickle keys come from PLAIT_SECRET_KEY, or else the secret_key file in PLAIT_HOME "
    "(default .plait)"
)


def key_id(key: bytes) -> str:
    """The key's public name: stored with every pickle, shown in errors."""
    return hashlib.sha256(b"plait pickle key\0" + key).hexdigest()[:_ID_SIZE]


def signer_of(blob: bytes) -> str | None:
    """The key id a pickle names; ``None`` for first-format blobs (or unsigned bytes)."""
    if blob.startswith(_MAGIC2) and len(blob) >= len(_MAGIC2) + _ID_SIZE + _MAC_SIZE:
        return blob[len(_MAGIC2) : len(_MAGIC2) + _ID_SIZE].decode("ascii", "replace")
    return None


def is_signed(blob: bytes) -> bool:
    """Whether the bytes carry this scheme's header (the signature is not checked)."""
    return blob.startswith((_MAGIC, _MAGIC2))


def sign(payload: bytes, key: bytes | None = None) -> bytes:
    key = key if key is not None else settings().resolved_secret_key()
    head = _MAGIC2 + key_id(key).encode()
    return head + hmac.new(key, head + payload, hashlib.sha256).digest() + payload


def verify(blob: bytes, key: bytes | None = None, *, what: str = "payload") -> bytes:
    """Return the payload of a signed blob; raise ``UnknownPickleKey`` if another key signed
    it, ``SignatureError`` if it is unsigned or tampered."""
    key = key if key is not None else settings().resolved_secret_key()
    signer = signer_of(blob)
    if signer is not None:
        if signer != key_id(key):
            raise UnknownPickleKey(
                f"{what} is signed with pickle key {signer}, and this process has key "
                f"{key_id(key)}; give it the key that wrote the value. {KEYS_COME_FROM}",
                key_id=signer,
                have=key_id(key),
            )
        head = len(_MAGIC2) + _ID_SIZE
        mac, payload = blob[head : head + _MAC_SIZE], blob[head + _MAC_SIZE :]
        expected = hmac.new(key, blob[:head] + payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise SignatureError(f"{what} has a bad signature (tampered); refusing to load it")
        return payload
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
