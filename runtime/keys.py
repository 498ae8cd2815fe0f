"""Ed25519 keys that sign workflow code: their text form and ids, the embedded key file, and
the keyring of one process (the key it signs with, if any, and every public key it trusts).

Text forms: a private key is ``plait-sk-`` and the URL-safe base64 of its 32-byte seed; a
public key ``plait-pk-`` and that of its 32 raw bytes. A key id is the first 16 hex characters
of the SHA-256 of the raw public key.

Where keys come from: ``PLAIT_SIGNING_KEY`` and ``PLAIT_VERIFY_KEYS`` when either is set, and
then only from there: a worker given public keys that way reads no key file, so node code that
writes files cannot make it trust a key. With neither set (the embedded default), from
``<home>/signing_key``: a private key, then public keys that stay trusted after a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from runtime.errors import MissingSigningKey, OptionError

if TYPE_CHECKING:
    from runtime.config import Settings

log = logging.getLogger("plait")

SECRET_PREFIX = "plait-sk-"
PUBLIC_PREFIX = "plait-pk-"
KEY_FILE = "signing_key"
"""Name of the embedded key file in ``<home>``."""
SIGNING_ENV = "PLAIT_SIGNING_KEY"
VERIFY_ENV = "PLAIT_VERIFY_KEYS"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class VerifyKey:
    """A public key: it verifies signatures and cannot make one."""

    public: Ed25519PublicKey = field(compare=False)
    key_id: str = field(init=False)
    """First 16 hex characters of the SHA-256 of the raw key: how messages and the store
    name it."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "key_id", hashlib.sha256(_raw_public(self.public)).hexdigest()[:16]
        )

    @classmethod
    def parse(cls, text: str, where: str) -> VerifyKey:
        """A ``plait-pk-...`` key; ``where`` names the setting or file line in errors."""
        text = text.strip()
        if text.startswith(SECRET_PREFIX):
            raise OptionError(
                f"{where} is a private key ({SECRET_PREFIX}...); it takes public keys only "
                f"({PUBLIC_PREFIX}...): `plait signing show` prints the public half"
            )
        raw = _unb64(text[len(PUBLIC_PREFIX) :]) if text.startswith(PUBLIC_PREFIX) else None
        if raw is None or len(raw) != 32:
            shown = text[:12] + "..." if len(text) > 12 else text
            raise OptionError(
                f"{where} is not a Plait public key: expected {PUBLIC_PREFIX} and 43 base64 "
                f"characters, got {shown!r}"
            )
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    def text(self) -> str:
        return PUBLIC_PREFIX + _b64(_raw_public(self.public))

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class SigningKey:
    """A private key. Its repr names only its id; ``text()`` is the one way to the secret."""

    __slots__ = ("_private", "public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = VerifyKey(private.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str, where: str) -> SigningKey:
        """A ``plait-sk-...`` key. Errors never quote it: it is a secret."""
        text = text.strip()
        if text.startswith(PUBLIC_PREFIX):
            raise OptionError(
                f"{where} holds a public key ({PUBLIC_PREFIX}...); it takes the private key "
                f"({SECRET_PREFIX}...), and public keys go in {VERIFY_ENV}"
            )
        raw = _unb64(text[len(SECRET_PREFIX) :]) if text.startswith(SECRET_PREFIX) else None
        if raw is None or len(raw) != 32:
            raise OptionError(
                f"{where} is not a Plait signing key: expected {SECRET_PREFIX} and 43 base64 "
                "characters (`plait signing generate` makes one)"
            )
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def text(self) -> str:
        """The private key in its text form: a secret, for a key file or the operator."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return SECRET_PREFIX + _b64(raw)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"<SigningKey {self.key_id}>"


@dataclass(frozen=True)
class KeyFile:
    """``<home>/signing_key``: the first key line is the private key, later ``plait-pk-``
    lines are earlier keys that stay trusted. Mode 0600; written whole or not at all."""

    path: Path

    def read(self) -> tuple[SigningKey, list[VerifyKey]] | None:
        """The key and the retired public keys, or ``None`` when the file does not exist."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        signer: SigningKey | None = None
        retired: list[VerifyKey] = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{self.path} line {number}"
            if signer is None:
                signer = SigningKey.parse(line, where)
            else:
                retired.append(VerifyKey.parse(line, where))
        if signer is None:
            raise OptionError(f"{self.path} holds no signing key; delete it or restore it")
        return signer, retired

    def create(self, key: SigningKey) -> bool:
        """Write the file unless it exists (then ``False``: another process made one first)."""
        temporary = self._write_temporary(key, [])
        try:
            os.link(temporary, self.path)  # atomic, and never over an existing file
        except FileExistsError:
            return False
        finally:
            temporary.unlink()
        return True

    def replace(self, key: SigningKey, retired: Iterable[VerifyKey]) -> None:
        """Put ``key`` in the file, keeping ``retired`` trusted; readers see old or new whole."""
        os.replace(self._write_temporary(key, list(retired)), self.path)

    def _write_temporary(self, key: SigningKey, retired: list[VerifyKey]) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        lines = [
            "# Plait signing key: private, keep it to yourself. Lines after it are public keys",
            "# of earlier signing keys, still trusted (plait signing rotate keeps them).",
            key.text(),
            *(k.text() for k in retired),
        ]
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return temporary


@dataclass(frozen=True)
class TrustedKey:
    """A public key this process accepts code from, and where it learnt it."""

    key: VerifyKey
    source: str
    """``PLAIT_SIGNING_KEY`` (the public half), ``PLAIT_VERIFY_KEYS``, or the key file."""


class Keyring:
    """The keys of one process. Built from the environment (``PLAIT_SIGNING_KEY``,
    ``PLAIT_VERIFY_KEYS``) or, when neither is set, from the key file, which is read again
    when a key is missing (another process of this home may have made it since)."""

    def __init__(
        self,
        signer: SigningKey | None,
        trusted: Iterable[TrustedKey],
        file: KeyFile | None = None,
    ) -> None:
        self._signer = signer
        self._trusted = {t.key.key_id: t for t in trusted}
        self.file = file
        """The key file, when keys come from it; ``None`` when they come from the
        environment."""
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, config: Settings) -> Keyring:
        if config.signing_key is None and not config.verify_keys:
            ring = cls(None, [], KeyFile(config.home / KEY_FILE))
            ring._reload()
            return ring
        signer = None
        trusted = []
        if config.signing_key is not None:
            signer = SigningKey.parse(config.signing_key.get_secret_value(), SIGNING_ENV)
            trusted.append(TrustedKey(signer.public, SIGNING_ENV))
        for number, text in enumerate(config.verify_keys, 1):
            trusted.append(
                TrustedKey(VerifyKey.parse(text, f"{VERIFY_ENV} key {number}"), VERIFY_ENV)
            )
        return cls(signer, trusted)

    @property
    def signer(self) -> SigningKey | None:
        """The key this process signs with, if it has one (it never makes one here)."""
        return self._signer

    @property
    def trusted(self) -> dict[str, TrustedKey]:
        """Key id -> trusted key, the signer's public half first."""
        return dict(self._trusted)

    def find(self, key_id: str) -> VerifyKey | None:
        """The trusted key with this id, or ``None``."""
        found = self._trusted.get(key_id)
        if found is None and self.file is not None:
            with self._lock:
                self._reload()
            found = self._trusted.get(key_id)
        return found.key if found else None

    def _reload(self) -> None:
        assert self.file is not None
        stored = self.file.read()
        if stored is None:
            return
        signer, retired = stored
        source = str(self.file.path)
        self._signer = signer
        self._trusted = {k.key_id: TrustedKey(k, source) for k in [signer.public, *retired]}

    def origin(self) -> str:
        """Where this process's keys come from, for messages."""
        if self.file is None:
            return (
                f"This process takes its keys from the environment: {SIGNING_ENV} (a private "
                f"key; its public half is trusted) and {VERIFY_ENV} (comma-separated public "
                "keys); with either set it reads no key file (<PLAIT_HOME>/signing_key)."
            )
        home = self.file.path.parent
        return (
            f"Keys come from {SIGNING_ENV} and {VERIFY_ENV}, or, with neither set (as here), "
            f"from {self.file.path} (PLAIT_HOME={home})."
        )

    def signing_key(self, stored_key_ids: Callable[[], list[str]]) -> SigningKey:
        """The key to sign with. In the embedded default a missing key file is generated,
        but only next to a store whose versions ``stored_key_ids`` says are signed by no key
        at all: a new key would sign code that nothing else trusts."""
        if self._signer is not None:
            return self._signer
        if self.file is None:
            raise MissingSigningKey(
                f"this process holds only public keys ({VERIFY_ENV}) and cannot sign code; "
                f"a publisher (caller, studio) needs {SIGNING_ENV}. {self.origin()}",
                expected=stored_key_ids(),
            )
        with self._lock:
            self._reload()
            if self._signer is not None:
                return self._signer
            expected = stored_key_ids()
            if expected:
                ids = ", ".join(expected)
                raise MissingSigningKey(
                    f"no signing key: {self.file.path} does not exist and neither "
                    f"{SIGNING_ENV} nor {VERIFY_ENV} is set, while the store's versions are "
                    f"signed with key {ids}. A key generated now would sign code that no other "
                    f"process trusts, so none is: restore {self.file.path}, or set "
                    f"{SIGNING_ENV} to the key with id {ids} (PLAIT_HOME, now "
                    f"{self.file.path.parent}, says where the file is looked for).",
                    expected=expected,
                )
            key = SigningKey.generate()
            if self.file.create(key):
                log.info("generated signing key %s into %s", key.key_id, self.file.path)
            self._reload()  # ours, or the one another process wrote first
            assert self._signer is not None
            return self._signer
