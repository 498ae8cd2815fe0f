"""Value references: an encoded value lives inline in its row when small, else in ``blob``
once per content hash. A reference is ``{"codec", "inline" | "blob", "size"}``."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, TypedDict

import sqlalchemy as sa

from runtime import codecs
from runtime.store import tables


class StoredValue(TypedDict, total=False):
    codec: str
    inline: bytes
    blob: str
    size: int


def put(
    conn: sa.Connection, encoded: codecs.Encoded, inline_limit: int, insert: Callable[..., Any]
) -> StoredValue:
    """Store an encoded value; large ones go to the blob table once, keyed by hash (``insert``:
    the dialect's INSERT construct, whose ``on_conflict_do_nothing`` keeps the first)."""
    data = encoded.data
    if encoded.codec == codecs.PICKLE:
        record_pickle_key(conn, data, insert)
    if len(data) <= inline_limit:
        return {"codec": encoded.codec, "inline": data, "size": len(data)}
    digest = hashlib.sha256(data).hexdigest()
    conn.execute(
        insert(tables.blob)
        .values(hash=digest, size=len(data), data=data, created_at=tables.utcnow())
        .on_conflict_do_nothing(index_elements=["hash"])
    )
    return {"codec": encoded.codec, "blob": digest, "size": len(data)}


def record_pickle_key(conn: sa.Connection, pickled: bytes, insert: Callable[..., Any]) -> None:
    """Note the id of the key a pickle is signed with (once per key)."""
    from runtime import signing

    key_id = signing.signer_of(pickled) or "unrecorded"
    conn.execute(
        insert(tables.pickle_key)
        .values(key_id=key_id, first_used_at=tables.utcnow())
        .on_conflict_do_nothing(index_elements=["key_id"])
    )


def inline(encoded: codecs.Encoded) -> StoredValue:
    """The reference of a value small enough to live in its row."""
    return {"codec": encoded.codec, "inline": encoded.data, "size": len(encoded.data)}


def load(conn: sa.Connection, stored: StoredValue, key: bytes | None = None) -> Any:
    if "inline" in stored:
        data = stored["inline"]
    else:
        data = conn.execute(
            sa.select(tables.blob.c.data).where(tables.blob.c.hash == stored["blob"])
        ).scalar_one()
    return codecs.decode(stored["codec"], data, key)


def to_json(stored: StoredValue) -> dict[str, Any]:
    """JSON form, for references kept inside JSON columns (run inputs)."""
    doc: dict[str, Any] = dict(stored)
    if "inline" in doc:
        doc["inline"] = base64.b64encode(doc["inline"]).decode()
    return doc


def from_json(doc: dict[str, Any]) -> StoredValue:
    stored: dict[str, Any] = dict(doc)
    if "inline" in stored:
        stored["inline"] = base64.b64decode(stored["inline"])
    return StoredValue(**stored)  # type: ignore[typeddict-item]


def from_columns(row: Any, prefix: str = "output") -> StoredValue | None:
    """The reference held in a row's ``<prefix>_codec/_inline/_blob/_size`` columns
    (``output`` on ``node_run``, ``value`` on ``document``)."""
    codec = getattr(row, f"{prefix}_codec")
    if codec is None:
        return None
    size = getattr(row, f"{prefix}_size")
    blob = getattr(row, f"{prefix}_blob")
    if blob is not None:
        return {"codec": codec, "blob": blob, "size": size}
    return {"codec": codec, "inline": getattr(row, f"{prefix}_inline"), "size": size}


def columns(stored: StoredValue | None, prefix: str = "output") -> dict[str, Any]:
    """The ``<prefix>_*`` columns that hold this reference."""
    if stored is None:
        return {}
    return {
        f"{prefix}_codec": stored["codec"],
        f"{prefix}_inline": stored.get("inline"),
        f"{prefix}_blob": stored.get("blob"),
        f"{prefix}_size": stored["size"],
    }
