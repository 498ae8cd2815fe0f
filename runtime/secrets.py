"""Encrypted secrets for nodes: ``plait secrets set OPENAI_API_KEY``, then
``@g.node(secrets=["OPENAI_API_KEY"])`` and ``rt.secret("OPENAI_API_KEY")`` inside the node.

Values are encrypted at rest with Fernet keys (``PLAIT_ENCRYPTION_KEY``: comma-separated,
newest first, through ``MultiFernet``; or ``<home>/encryption_key``), a key of their own,
separate from the code-signing and pickle keys. Values are decrypted only by the process that
runs a node declaring them (the engine's pass), and handed only to those nodes; every stored
trace of them (logs, errors, tracebacks, outputs, documents, events) reads ``[secret:NAME]``.
Nothing here ever logs or returns a value except ``reveal``, for the engine.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from runtime import codecs
from runtime.config import Settings
from runtime.errors import InputError, NotFound, PlaitError
from runtime.store import Store, tables
from runtime.store.tables import utcnow

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
MIN_VALUE = 4
"""Shorter values are refused: a value is found and hidden inside any text, and a 2-letter one
would blank out ordinary words."""
MAX_VALUE = 65_536
KEY_FILE = "encryption_key"


class EncryptionKeyError(PlaitError):
    """No key to encrypt or decrypt secrets with, or a key that does not fit them."""


class SecretLeak(PlaitError):
    """A value holds a secret in a form that cannot be redacted (e.g. inside a pickle)."""


def check_name(name: object) -> str:
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise InputError(
            f"secret name {name!r}: use letters, digits and '_' (at most 100, not starting "
            "with a digit), e.g. OPENAI_API_KEY"
        )
    return name


def check_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"secret {name!r}: the value must be text")
    value = value.rstrip("\r\n")
    if len(value) < MIN_VALUE:
        raise InputError(f"secret {name!r}: the value needs at least {MIN_VALUE} characters")
    if len(value) > MAX_VALUE:
        raise InputError(f"secret {name!r}: the value may have at most {MAX_VALUE} characters")
    if "\x00" in value:
        raise InputError(f"secret {name!r}: the value must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"secret {name!r}: the value must be valid Unicode text") from None
    return value


def generate_key() -> str:
    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class SecretInfo:
    """A secret as lists show it: never its value."""

    name: str
    created_at: dt.datetime
    created_by: str | None
    updated_at: dt.datetime
    updated_by: str | None


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Keys:
    """Where the encryption keys come from: ``PLAIT_ENCRYPTION_KEY`` when set (and then only
    there), else the key file in ``home``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.file = None if settings.encryption_key else settings.home / KEY_FILE

    def texts(self) -> list[str]:
        if self.settings.encryption_key is not None:
            text = self.settings.encryption_key.get_secret_value()
            source = "PLAIT_ENCRYPTION_KEY"
        elif self.file is not None and self.file.exists():
            text = self.file.read_text().replace("\n", ",")
            source = str(self.file)
        else:
            return []
        keys = [k.strip() for k in text.split(",") if k.strip()]
        for k in keys:
            try:
                Fernet(k)
            except ValueError:
                raise EncryptionKeyError(
                    f"{source} holds something that is not a Fernet key (generate one with "
                    "`plait secrets generate-key`)"
                ) from None
        return keys

    def box(self, *, create: bool = False) -> MultiFernet:
        keys = self.texts()
        if not keys and create and self.file is not None:
            self._write([generate_key()])
            keys = self.texts()
        if not keys:
            where = (
                f"PLAIT_ENCRYPTION_KEY (or {self.file})" if self.file else "PLAIT_ENCRYPTION_KEY"
            )
            raise EncryptionKeyError(
                f"no encryption key for secrets in this process: set {where} to the key the "
                "secrets were stored with"
            )
        return MultiFernet([Fernet(k) for k in keys])

    def prepend_new(self) -> str | None:
        """A new key first in the key file (the old ones stay, to decrypt); ``None`` when the
        keys come from the environment (the operator adds one there)."""
        if self.file is None:
            return None
        new = generate_key()
        self._write([new, *self.texts()])
        return new

    def _write(self, keys: list[str]) -> None:
        assert self.file is not None
        self.file.parent.mkdir(parents=True, exist_ok=True)
        temp = self.file.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(keys) + "\n")
        Path(temp).replace(self.file)


class Secrets:
    """The secrets of one store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.keys = Keys(settings)

    def set(self, name: str, value: str, *, by: str | None) -> bool:
        """Store (or replace) a secret; whether it is new. Nothing is stored on bad input."""
        check_name(name)
        value = check_value(name, value)
        s = tables.secret
        box = self.keys.box(create=not self._any())
        token = box.encrypt(value.encode())
        now = utcnow()
        with self.store.write() as conn:
            exists = conn.execute(sa.select(s.c.name).where(s.c.name == name)).first()
            if exists:
                conn.execute(
                    sa.update(s)
                    .where(s.c.name == name)
                    .values(ciphertext=token, updated_at=now, updated_by=by)
                )
            else:
                conn.execute(
                    sa.insert(s).values(
                        name=name,
                        ciphertext=token,
                        created_at=now,
                        created_by=by,
                        updated_at=now,
                        updated_by=by,
                    )
                )
        return not exists

    def list(self) -> list[SecretInfo]:
        s = tables.secret
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(
                    s.c.name, s.c.created_at, s.c.created_by, s.c.updated_at, s.c.updated_by
                ).order_by(s.c.name)
            ).all()
        return [
            SecretInfo(r.name, _utc(r.created_at), r.created_by, _utc(r.updated_at), r.updated_by)
            for r in rows
        ]

    def delete(self, name: str) -> None:
        s = tables.secret
        with self.store.write() as conn:
            if not conn.execute(sa.delete(s).where(s.c.name == name)).rowcount:
                raise NotFound(f"no secret named {name!r}")

    def rotate(self) -> int:
        """Re-encrypt every secret with the first key (each must decrypt under some key);
        returns how many. All or nothing."""
        box = self.keys.box()
        s = tables.secret
        with self.store.write() as conn:
            rows = conn.execute(sa.select(s.c.name, s.c.ciphertext)).all()
            for row in rows:
                try:
                    token = box.rotate(row.ciphertext)
                except InvalidToken:
                    raise EncryptionKeyError(
                        f"secret {row.name!r} does not decrypt under any configured key; "
                        "nothing was re-encrypted"
                    ) from None
                conn.execute(sa.update(s).where(s.c.name == row.name).values(ciphertext=token))
        return len(rows)

    def reveal(self, names: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """The values of ``names`` (for the engine, which hands each node its own) and, for
        those it cannot give, why (not set; no key here; a key that does not fit)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}, {}
        s = tables.secret
        with self.store.read() as conn:
            rows = {
                r.name: r.ciphertext
                for r in conn.execute(
                    sa.select(s.c.name, s.c.ciphertext).where(s.c.name.in_(wanted))
                )
            }
        values: dict[str, str] = {}
        problems: dict[str, str] = {}
        box: MultiFernet | None = None
        for name in wanted:
            if name not in rows:
                problems[name] = f"secret {name!r} is not set (plait secrets set {name})"
                continue
            try:
                box = box or self.keys.box()
                values[name] = box.decrypt(rows[name]).decode()
            except EncryptionKeyError as exc:
                problems[name] = f"secret {name!r} cannot be decrypted here: {exc}"
            except InvalidToken:
                problems[name] = (
                    f"secret {name!r} does not decrypt under this process's "
                    "PLAIT_ENCRYPTION_KEY (a key that was rotated out?)"
                )
        return values, problems

    def _any(self) -> bool:
        with self.store.read() as conn:
            return conn.execute(sa.select(tables.secret.c.name).limit(1)).first() is not None


# -- scrubbing stored values -----------------------------------------------------------------


def marker(name: str) -> str:
    return f"[secret:{name}]"


def scrub(
    encoded: codecs.Encoded, named: dict[str, str], *, what: str, key: bytes | None = None
) -> codecs.Encoded:
    """``encoded`` with every secret value in it replaced by ``[secret:NAME]``, before it is
    stored. Text codecs are rewritten in place (and must still decode); tables are decoded,
    scrubbed and encoded again; a pickle holding a secret cannot be scrubbed: ``SecretLeak``."""
    if not named:
        return encoded
    data, codec = encoded.data, encoded.codec
    if codec == codecs.TreeCodec.name:  # each member as it would be on its own
        header, parts = codecs.tree_parts(data)
        scrubbed = [scrub(part, named, what=what, key=key) for part in parts]
        if all(a is b for a, b in zip(scrubbed, parts, strict=True)):
            return encoded
        return codecs.Encoded(codec, codecs.tree_join(header, scrubbed))
    if codec == codecs.NumpyCodec.name:  # text arrays are UCS-4: no byte form matches
        array = codecs.decode(codec, data, key)
        if array.dtype.kind != "U":
            return encoded
        fixed = _scrub_array(array, named)
        return encoded if fixed is None else codecs.encode(fixed, what=what)
    if codec in ("parquet.frame", "parquet.series"):
        value = codecs.decode(codec, data, key)
        scrubbed, changed = _scrub_frame(value, named)
        return codecs.encode(scrubbed, what=what) if changed else encoded
    forms = _byte_forms(named)
    if not any(form in data for form, _ in forms):
        return encoded
    if codec == codecs.PICKLE or codec.startswith("pickle"):
        found = sorted({n for f, n in forms if f in data})
        raise SecretLeak(
            f"{what} holds the value of secret {', '.join(found)} inside a pickle, which "
            "cannot be redacted; it was not stored"
        )
    for form, name in forms:
        data = data.replace(form, marker(name).encode())
    if codec != "bytes":
        try:
            codecs.decode(codec, data, key)
        except Exception:
            raise SecretLeak(f"{what} holds a secret that cannot be redacted; not stored") from None
    return codecs.Encoded(codec, data)


def _byte_forms(named: dict[str, str]) -> list[tuple[bytes, str]]:
    """Each value as it may appear in stored bytes (raw, JSON-escaped either way), longest
    first."""
    import json

    forms: dict[bytes, str] = {}
    for name, value in named.items():
        for text in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
            forms.setdefault(text.encode(), name)
    return sorted(forms.items(), key=lambda item: len(item[0]), reverse=True)


def _scrub_text(text: str, named: dict[str, str]) -> str:
    for name, value in sorted(named.items(), key=lambda item: len(item[1]), reverse=True):
        text = text.replace(value, marker(name))
    return text


def _scrub_array(array: Any, named: dict[str, str]) -> Any:
    """A numpy text array or scalar with the secrets replaced, or ``None`` if it holds none."""
    import numpy as np

    texts = [str(item) for item in np.atleast_1d(array).ravel()]
    fixed = [_scrub_text(text, named) for text in texts]
    if fixed == texts:
        return None
    out = np.array(fixed).reshape(np.shape(array))
    return out[()] if isinstance(array, np.generic) else out


def _scrub_frame(value: Any, named: dict[str, str]) -> tuple[Any, bool]:
    import pandas as pd

    frame = value.to_frame() if isinstance(value, pd.Series) else value
    changed = False
    out = frame.copy()

    def fix(item: Any) -> Any:
        nonlocal changed
        if isinstance(item, str):
            fixed = _scrub_text(item, named)
            changed = changed or fixed != item
            return fixed
        return item

    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(fix)
    out.columns = [fix(c) for c in out.columns]
    out.index = out.index.map(fix)
    if isinstance(value, pd.Series):
        series = out.iloc[:, 0]
        series.name = fix(value.name)
        return series, changed
    return out, changed
