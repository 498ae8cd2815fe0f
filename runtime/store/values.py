"""Value references: an encoded value lives inline in its row when small, else in ``blob``
once per content hash. A reference is ``{"codec", "inline" | "blob", "size"}``.

Members of a list, tuple or dict (``codecs.TreeCodec``) are held the same way: a member larger
than the inline limit goes to ``blob`` on its own (once per content, under a hash of its own
kind), and the tree keeps ``blob:<codec>`` and that hash in its place; reading puts it back
before decoding, so nothing outside this module sees such a member. Nothing deletes member
blobs yet (retention knows the reference columns only)."""

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
    the dialect's INSERT construct). Storing a value that is there already touches its
    ``created_at``: retention deletes only blobs nobody stored since its cutoff, and the
    touch's row lock orders this write against such a delete."""
    if encoded.codec == codecs.TreeCodec.name:
        encoded = codecs.Encoded(
            encoded.codec, _members_out(conn, encoded.data, inline_limit, insert)
        )
    data = encoded.data
    if encoded.codec == codecs.PICKLE:
        record_pickle_key(conn, data, insert)
    if len(data) <= inline_limit:
        return {"codec": encoded.codec, "inline": data, "size": len(data)}
    digest = _put_blob(conn, hashlib.sha256(data).hexdigest(), data, insert)
    return {"codec": encoded.codec, "blob": digest, "size": len(data)}


_MEMBER_BLOB = "blob:"


def _put_blob(conn: sa.Connection, digest: str, data: bytes, insert: Callable[..., Any]) -> str:
    now = tables.utcnow()
    conn.execute(
        insert(tables.blob)
        .values(hash=digest, size=len(data), data=data, created_at=now)
        .on_conflict_do_update(index_elements=["hash"], set_={"created_at": now})
    )
    return digest


def _members_out(
    conn: sa.Connection, tree: bytes, inline_limit: int, insert: Callable[..., Any]
) -> bytes:
    header, parts = codecs.tree_parts(tree)
    moved = []
    for part in parts:
        if part.codec == codecs.TreeCodec.name:
            part = codecs.Encoded(part.codec, _members_out(conn, part.data, inline_limit, insert))
        if len(part.data) > inline_limit:
            # keyed apart from whole values: what deletes a value's blob (retention, which
            # reads the reference columns) can never take a member still held by a tree
            key = hashlib.sha256(b"plait tree member\0" + part.data).hexdigest()
            digest = _put_blob(conn, key, part.data, insert)
            part = codecs.Encoded(_MEMBER_BLOB + part.codec, digest.encode())
        moved.append(part)
    return codecs.tree_join(header, moved)


def _members_in(conn: sa.Connection, tree: bytes) -> bytes:
    header, parts = codecs.tree_parts(tree)
    back = []
    for part in parts:
        if part.codec.startswith(_MEMBER_BLOB):
            data = conn.execute(
                sa.select(tables.blob.c.data).where(tables.blob.c.hash == part.data.decode())
            ).scalar_one()
            part = codecs.Encoded(part.codec[len(_MEMBER_BLOB) :], data)
        if part.codec == codecs.TreeCodec.name:
            part = codecs.Encoded(part.codec, _members_in(conn, part.data))
        back.append(part)
    return codecs.tree_join(header, back)


def needs_connection(stored: StoredValue) -> bool:
    """Whether reading the value needs the database (a blob, or a tree that may hold some)."""
    return "inline" not in stored or stored["codec"] == codecs.TreeCodec.name


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
    if stored["codec"] == codecs.TreeCodec.name:
        data = _members_in(conn, data)
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
