"""Node result caching (``@g.node(cache=True)`` or ``cache=timedelta(...)``).

A cached node's attempt first computes a key from what decides its output: the workflow, the
node's name, its digest (its spec entry and the code it runs, ``Graph.node_digests``: the same
one a replay compares) and a content hash of each argument it is called with. When the store
holds a succeeded attempt under that key (``Store.cache_lookup``), recorded recently enough for
a ``timedelta`` policy, the attempt takes that output instead of running: its row is
``succeeded`` with ``cached_from`` naming the source attempt, and the views show it ``cached``.
Otherwise the node runs, and its success files its attempt under the key
(``NodeFinish.cache``), replacing an older entry.

The key is only ever compared, never decoded: an argument no safe codec stores is hashed from
its pickle, which may differ between processes (a miss then, never a wrong hit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import cloudpickle

from runtime import codecs

KEY_VERSION = b"plait-cache-1"
"""Changes when what goes into a key changes, so old entries stop matching."""


def key(workflow: str, node: str, digest: str, kwargs: Mapping[str, Any]) -> str:
    """The cache key of calling ``node`` (of ``digest``) with ``kwargs``."""
    h = hashlib.sha256(KEY_VERSION)
    for part in (workflow, node, digest):
        h.update(b"\0" + part.encode())
    for param in sorted(kwargs):
        h.update(b"\0" + param.encode() + b"\0" + value_hash(kwargs[param]).encode())
    return h.hexdigest()


def value_hash(value: Any) -> str:
    """A content hash of a value: of its stored encoding (codec and bytes) when a safe codec
    takes it, else of its pickle."""
    try:
        encoded = codecs.encode(value)
        payload = encoded.codec.encode() + b"\0" + encoded.data
    except codecs.CodecError:
        payload = b"pickle\0" + cloudpickle.dumps(value)
    return hashlib.sha256(payload).hexdigest()


def max_age(policy: bool | dt.timedelta) -> dt.timedelta | None:
    """How old an entry a node's ``cache`` policy accepts (``None``: any age)."""
    return policy if isinstance(policy, dt.timedelta) else None
