"""Node code saving documents in many threads at once uses a bounded share of the store's
connections: the passes' checkpoints always find one free."""

from __future__ import annotations

import threading

import sqlalchemy as sa

import runtime as rt
from runtime.store import db


class Peak:
    """The most connections checked out of a pool at once."""

    def __init__(self, engine: sa.Engine) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()
        sa.event.listen(engine, "checkout", self._out)
        sa.event.listen(engine, "checkin", self._in)

    def _out(self, *_: object) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def _in(self, *_: object) -> None:
        with self.lock:
            self.now -= 1


def test_saving_threads_leave_connections_for_checkpoints(pg_client: rt.Client) -> None:
    width, runs = 8, 5  # 40 node threads, saving at the same moment
    gate = threading.Barrier(width * runs, timeout=60)
    g = rt.Graph("documents_everywhere")
    for i in range(width):

        @g.node(name=f"saver{i}")
        def saver(x: int) -> int:
            gate.wait()
            for k in range(10):
                rt.current().save_document(f"doc{k}", "x" * 200)
            return x

    peak = Peak(pg_client.store.engine)
    started = [pg_client.start(g, {"x": i}) for i in range(runs)]
    for run in started:
        assert run.wait(120).status == "succeeded", run.error
        assert len(run.documents) == width * 10
    # the node threads' share, and the few a pass needs for itself (checkpoint, heartbeat,
    # status reads), but never the whole pool
    assert peak.most <= db.NODE_WRITE_CONNECTIONS + 2 * runs, peak.most
