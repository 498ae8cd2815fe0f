"""Password hashes: argon2id through argon2-cffi, with its RFC 9106 parameters. A login that
finds no account (or is locked out) still spends one verification, so the answer takes as
long as a wrong password's."""

from __future__ import annotations

import contextlib
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from runtime.errors import InputError

MIN_LENGTH = 10
MAX_LENGTH = 1024
"""Longer passwords are refused (hashing megabytes is a way to load the server)."""

_hasher = PasswordHasher()


def check_password(password: object) -> str:
    """``password`` if it may be set; an ``InputError`` saying why not otherwise (never
    echoing it)."""
    if not isinstance(password, str):
        raise InputError("a password must be text")
    if len(password) < MIN_LENGTH:
        raise InputError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InputError(f"a password may have at most {MAX_LENGTH} characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("a password must be valid Unicode text") from None
    if "\x00" in password or password != password.strip("\r\n"):
        raise InputError("a password must not contain NUL characters or line breaks at its ends")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def verify(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches; ``False`` for a broken hash too."""
    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        burn()
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """The hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@cache
def _dummy() -> str:
    return _hasher.hash("plait-no-such-account")


def burn() -> None:
    """Spend one verification's time on nothing."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy(), "not the password")
