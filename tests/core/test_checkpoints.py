"""Checkpoints through the engine, on SQLite and PostgreSQL (the store's own checkpoint
semantics: ``test_store_contract.py``); ``leased_run`` gives other tests a run to write to."""

from __future__ import annotations

import datetime as dt

import runtime as rt
from runtime.store import Lease


def leased_run(client: rt.Client, owner: str = "test-owner") -> Lease:
    """A stored run whose lease this test holds (no engine pass touches it)."""
    g = rt.Graph("checkpoints")
    g.wait("hold", {"ok": bool})
    version = client.publish(g)
    record, _ = client.store.create_run(version, {}, trigger="sdk", owner=None, inline_limit=16_384)
    acquired = client.store.acquire(record.id, owner, 30)
    assert acquired is not None
    return acquired.lease


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_a_node_saving_many_documents_checkpoints_them_all(client: rt.Client) -> None:
    g = rt.Graph("many_documents")

    @g.node
    def notes() -> int:
        for i in range(40):
            rt.current().save_document(f"note {i}", f"text {i}")
        return 40

    run = g.run().wait(30)
    assert run.status == "succeeded"
    assert [d.name for d in run.documents] == [f"note {i}" for i in range(40)]
    saved = [e for e in run.events() if e["type"] == "document.saved"]
    assert len(saved) == 40 and [e["seq"] for e in saved] == sorted(e["seq"] for e in saved)
