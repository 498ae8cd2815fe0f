"""The store operations behind spreading a run across workers (``runtime.spread``):
claiming a handed-out attempt and recording the ends of several at once, on both stores."""

from __future__ import annotations

import datetime as dt

from runtime.spread import handed_owner
from runtime.store import Lease, NewEvent, NodeStart, Store
from runtime.store.tables import utcnow
from tests.core.test_store_contract import leased, ok, store  # noqa: F401  (the fixture)


def handed(into: Store, lease: Lease, node: str) -> int:
    begun = NodeStart(
        node,
        1,
        "running",
        utcnow(),
        owner=handed_owner(lease.owner),
        lease_until=utcnow() + dt.timedelta(seconds=30),
    )
    into.step(lease, starts=[begun])
    assert begun.row_id is not None
    return begun.row_id


def test_a_handed_out_attempt_is_claimed_once(store: Store) -> None:  # noqa: F811
    lease = leased(store)
    row = handed(store, lease, "a")
    by = handed_owner(lease.owner)
    assert not store.claim_attempt(lease.run_id, row, "someone:handed", "w1", 30)  # not theirs
    assert store.claim_attempt(lease.run_id, row, by, "w1", 30)
    assert not store.claim_attempt(lease.run_id, row, by, "w2", 30)  # a duplicate message
    (claimed,) = store.node_attempts(lease.run_id, "a")
    assert claimed.owner == "w1" and claimed.lease_until is not None
    # a closed attempt is not claimed: the pass cut it off first
    other = handed(store, lease, "b")
    store.unstart(lease, [other])
    assert not store.claim_attempt(lease.run_id, other, by, "w1", 30)


def test_the_ends_of_several_attempts_share_one_write(store: Store) -> None:  # noqa: F811
    lease = leased(store)
    by = handed_owner(lease.owner)
    rows = [handed(store, lease, name) for name in ("a", "b", "c")]
    for row in rows[:2]:
        assert store.claim_attempt(lease.run_id, row, by, "w1", 30)
    ends = [
        (ok(row), [NewEvent("node.succeeded", name)]) for row, name in zip(rows, "abc", strict=True)
    ]
    written, events = store.finish_orphans(lease.run_id, "w1", ends, 16)
    assert written == set(rows[:2])  # c is not w1's: nothing of it is written
    assert [e["node"] for e in events] == ["a", "b"]
    statuses = {r.node: r.status for r in store.attempts(lease.run_id)}
    assert statuses == {"a": "succeeded", "b": "succeeded", "c": "running"}
    assert store.finish_orphans(lease.run_id, "w1", ends, 16) == (set(), [])
