"""Signed workflow code: the bytes a version stores, and the check made before any of it is
unpickled.

A blob is ``PLAIT-ED25519:``, the signing key's id (16 hex characters), an Ed25519 signature
(64 bytes) and the cloudpickled graph. The signature covers the header, the workflow's name
and version hash, and the graph, so bytes signed for one version are refused on another.
Publishers sign with a private key; every loader verifies with public keys only.
"""

from __future__ import annotations

import json

from runtime import signing
from runtime.errors import LegacySignature, TamperedCode, UnknownSigningKey
from runtime.keys import Keyring, SigningKey

MAGIC = b"PLAIT-ED25519:"
LEGACY = "hmac"
"""What ``signer_of`` says of code signed under the retired HMAC scheme."""
_ID_SIZE = 16
_SIGNATURE_SIZE = 64
HEADER_SIZE = len(MAGIC) + _ID_SIZE + _SIGNATURE_SIZE
"""Bytes before the pickled graph."""
_HEX = frozenset(b"0123456789abcdef")


def subject(workflow: str, version: str) -> bytes:
    """What a signature is bound to besides the code: the version it was published as."""
    return json.dumps([workflow, version]).encode()


def _message(key_id: bytes, bound_to: bytes, payload: bytes) -> bytes:
    return MAGIC + key_id + len(bound_to).to_bytes(4, "big") + bound_to + payload


def sign(payload: bytes, key: SigningKey, bound_to: bytes) -> bytes:
    key_id = key.key_id.encode()
    return MAGIC + key_id + key.sign(_message(key_id, bound_to, payload)) + payload


def signer_of(blob: bytes) -> str | None:
    """The key id a blob names, ``LEGACY`` for HMAC-era code, ``None`` if it is unsigned."""
    if signing.is_signed(blob):
        return LEGACY
    if blob.startswith(MAGIC) and len(blob) >= HEADER_SIZE:
        key_id = blob[len(MAGIC) : len(MAGIC) + _ID_SIZE]
        if _HEX.issuperset(key_id):
            return key_id.decode()
    return None


def verify(blob: bytes, keyring: Keyring, bound_to: bytes, *, what: str) -> bytes:
    """The payload of a blob signed for ``bound_to`` by a key the keyring trusts.

    Raises ``LegacySignature`` for HMAC-era code, ``UnknownSigningKey`` when the key is not
    trusted here (configuration), ``TamperedCode`` when the bytes are unsigned or do not
    match their signature (forgery). Nothing is unpickled either way.
    """
    key_id = signer_of(blob)
    trusted = list(keyring.trusted)
    if key_id == LEGACY:
        raise LegacySignature(
            f"{what} is signed under the retired HMAC scheme (PLAIT_SECRET_KEY), which no "
            "longer verifies code; re-sign the stored versions with `plait signing rotate` "
            "(run where PLAIT_SECRET_KEY and the signing key are set)",
            key_id=LEGACY,
            trusted=trusted,
        )
    if key_id is None:
        raise TamperedCode(f"{what} is not signed; refusing to load it")
    key = keyring.find(key_id)
    if key is None:
        raise UnknownSigningKey(
            f"{what} is signed with key {key_id}, which this process does not trust (it "
            f"trusts {', '.join(keyring.trusted) or 'no key'}). {keyring.origin()}",
            key_id=key_id,
            trusted=list(keyring.trusted),
        )
    signature = blob[len(MAGIC) + _ID_SIZE : HEADER_SIZE]
    payload = blob[HEADER_SIZE:]
    if not key.verifies(signature, _message(key_id.encode(), bound_to, payload)):
        raise TamperedCode(
            f"{what} has a bad signature under key {key_id} (changed after signing, or "
            "taken from another version); refusing to load it"
        )
    return payload
