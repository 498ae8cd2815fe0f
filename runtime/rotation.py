"""Key rotation: sign every stored version's code again, with a new signing key.

Nothing stored is unpickled. A version is re-signed only when its bytes verify under a key
this process trusts (or, for code from before Ed25519 signing, under the HMAC of
``PLAIT_SECRET_KEY``); then the same bytes are signed with the new key. What does not verify
is left as it is and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime import codesign, signing
from runtime.errors import LegacySignature, SignatureError
from runtime.keys import Keyring, SigningKey, TrustedKey
from runtime.store import Store
from runtime.store.tables import WorkflowVersion


@dataclass
class Rotation:
    """What a rotation finds, then does."""

    new: SigningKey
    to_resign: list[int] = field(default_factory=list)
    """Versions whose code verifies and is not yet signed with the new key."""
    legacy: list[str] = field(default_factory=list)
    """Of those, the HMAC-era ones (listed: anyone who held PLAIT_SECRET_KEY could have
    written them)."""
    current: int = 0
    """Versions already signed with the new key (a rotation run again)."""
    refused: list[str] = field(default_factory=list)
    """Why each version that does not verify is left as it is."""
    resigned: int = 0


def label(version: WorkflowVersion) -> str:
    return f"workflow {version.spec['name']!r} {version.version}"


def _verified(version: WorkflowVersion, trusted: Keyring, secret_key: bytes | None) -> bytes:
    """The version's code, checked; raises ``SignatureError`` when it does not verify."""
    what = f"code of {label(version)}"
    if codesign.signer_of(version.code) == codesign.LEGACY:
        if secret_key is None:
            raise LegacySignature(
                f"{what} is HMAC-era code and PLAIT_SECRET_KEY is not set (nor "
                "<home>/secret_key), so it cannot be checked",
                key_id=codesign.LEGACY,
                trusted=list(trusted.trusted),
            )
        return signing.verify(version.code, secret_key, what=what)
    bound_to = codesign.subject(version.spec["name"], version.version)
    return codesign.verify(version.code, trusted, bound_to, what=what)


def _with(keyring: Keyring, new: SigningKey) -> Keyring:
    """The keys a rotation accepts: every key trusted here, and the new one."""
    return Keyring(None, [*keyring.trusted.values(), TrustedKey(new.public, "the new key")])


def plan(store: Store, keyring: Keyring, secret_key: bytes | None, new: SigningKey) -> Rotation:
    """Check every stored version; change nothing."""
    rotation = Rotation(new)
    trusted = _with(keyring, new)
    for version_id in store.version_ids_with_code():
        version = store.get_version(version_id)
        try:
            _verified(version, trusted, secret_key)
        except SignatureError as exc:
            rotation.refused.append(str(exc))
            continue
        signer = codesign.signer_of(version.code)
        if signer == new.key_id:
            rotation.current += 1
        else:
            rotation.to_resign.append(version_id)
            if signer == codesign.LEGACY:
                rotation.legacy.append(label(version))
    return rotation


def apply(store: Store, rotation: Rotation, keyring: Keyring, secret_key: bytes | None) -> None:
    """Re-sign the planned versions (each checked again: the store may have changed)."""
    trusted = _with(keyring, rotation.new)
    for version_id in rotation.to_resign:
        version = store.get_version(version_id)
        try:
            payload = _verified(version, trusted, secret_key)
        except SignatureError as exc:
            rotation.refused.append(str(exc))
            continue
        bound_to = codesign.subject(version.spec["name"], version.version)
        code = codesign.sign(payload, rotation.new, bound_to)
        store.replace_code(version_id, code, rotation.new.key_id)
        rotation.resigned += 1
