"""The embedded bus across processes: a run in one process (a notebook, a script) reaches a
follower in another (the studio) through the datagram sockets beside the SQLite file, not
through the follower's periodic re-read of the table."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime import client as client_module
from runtime import events as events_module
from runtime.events import ALL_RUNS, LocalBus
from runtime.socket_bus import BACKLOG_BYTES, MAX_DATAGRAM, SocketBus, bus_directory
from runtime.store.tables import EventDict
from tests.core import bus_flows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def studio_side(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[rt.Client]:
    """The following process. Its re-read of the table is an hour away: whatever it learns
    during a test came through the bus."""
    monkeypatch.setattr(events_module, "_RESYNC_SECONDS", 3600.0)
    c = rt.connect(f"sqlite:///{home / 'plait.db'}", home=home)
    yield c
    c.close()
    client_module._default = None


def other_process(home: Path, what: str, gate: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": f"sqlite:///{home / 'plait.db'}",
        "PLAIT_HOME": str(home),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.bus_flows", what, str(gate)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def started_run(runs: queue.SimpleQueue[list[EventDict]]) -> str:
    """The id of the first run another process announced as running."""
    while True:
        batch = runs.get(timeout=60)
        for event in batch:
            if event["type"] == "run.running":
                return event["run_id"]


def test_node_changes_of_a_run_in_another_process_arrive_on_the_bus(
    studio_side: rt.Client, home: Path
) -> None:
    runs: queue.SimpleQueue[list[EventDict]] = queue.SimpleQueue()
    studio_side.bus.subscribe(ALL_RUNS, runs.put)  # before the other process publishes
    gate = home / "gate"
    child = other_process(home, "chain", gate)
    try:
        run_id = started_run(runs)
        heard: queue.SimpleQueue[EventDict] = queue.SimpleQueue()
        studio_side.bus.subscribe(run_id, lambda batch: [heard.put(e) for e in batch])
        followed: list[EventDict] = []
        follower = threading.Thread(
            target=lambda: followed.extend(studio_side.get_run(run_id).events()), daemon=True
        )
        follower.start()
        gate.touch()  # the nodes run only now, all of them while we listen

        succeeded: set[str] = set()
        while "run.succeeded" not in succeeded:
            event = heard.get(timeout=60)
            if event["type"] in ("node.succeeded", "run.succeeded"):
                succeeded.add(event["node"] or event["type"])
        assert succeeded == {"gate", "a", "b", "c", "run.succeeded"}
        # the follower (what the run page uses) ended on the doorbell: its re-read is an hour off
        follower.join(60)
        assert not follower.is_alive()
        stored = studio_side.store.events(run_id)
        assert [e["seq"] for e in followed] == [e["seq"] for e in stored]
        assert followed[-1]["type"] == "run.succeeded"
    finally:
        child.kill()
        child.wait()


def test_streamed_tokens_of_another_process_reach_the_follower(
    studio_side: rt.Client, home: Path
) -> None:
    runs: queue.SimpleQueue[list[EventDict]] = queue.SimpleQueue()
    studio_side.bus.subscribe(ALL_RUNS, runs.put)
    gate = home / "gate"
    child = other_process(home, "tokens", gate)
    try:
        run = studio_side.get_run(started_run(runs))
        texts: list[str] = []
        for event in run.events(tokens=True, timeout=60):
            gate.touch()  # subscribed: the model may stream now
            if event["type"] == "node.tokens":
                assert event["node"] == "answer"
                texts.append(event["data"]["text"])
        # tokens are never stored: these came from the other process over the bus
        assert "".join(texts) == bus_flows.ANSWER
        assert run.status == "succeeded", run.error
    finally:
        child.kill()
        child.wait()


def test_the_socket_of_a_killed_process_is_removed_by_the_next_publisher(
    studio_side: rt.Client, home: Path
) -> None:
    directory = bus_directory(studio_side.settings.resolved_database_url())
    assert directory is not None
    killed = other_process(home, "listen", home / "never")
    released_gate = home / "release"
    released = other_process(home, "listen", released_gate)
    try:
        for child in (killed, released):
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "listening"
        sockets = {p.name.split("-")[0]: p for p in directory.iterdir()}
        assert {str(killed.pid), str(released.pid)} <= sockets.keys()

        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert sockets[str(killed.pid)].exists()  # nobody removed it: it died unclosed
        released_gate.touch()  # this one closes its client and exits
        assert released.wait(60) == 0
        assert not sockets[str(released.pid)].exists()

        studio_side.bus.publish("some-run", [_event("some-run", 1)])
        assert not sockets[str(killed.pid)].exists()
    finally:
        for child in (killed, released):
            child.kill()
            child.wait()


def _event(run_id: str, seq: int, data: dict | None = None) -> EventDict:
    return {
        "run_id": run_id,
        "seq": seq,
        "type": "node.succeeded",
        "node": "n",
        "data": data or {},
        "at": time.time(),
    }


def test_a_large_burst_to_a_busy_reader_arrives_whole_and_in_order(tmp_path: Path) -> None:
    """More datagrams than the kernel queues for a peer (10), some larger than one datagram:
    none lost while the reader is stuck in a listener, all in publishing order after."""
    directory = tmp_path / "plait.db-bus"
    publisher, reader = SocketBus(directory), SocketBus(directory)
    stuck, got = threading.Event(), queue.SimpleQueue[EventDict]()

    def listen(batch: list[EventDict]) -> None:
        stuck.wait(60)
        for e in batch:
            got.put(e)

    reader.subscribe("r", listen)
    try:
        big = "x" * (MAX_DATAGRAM // 8)
        for seq in range(1, 201):
            publisher.publish("r", [_event("r", seq, {"text": big} if seq % 50 == 0 else None)])
        publisher.publish("r", [_event("r", seq, {"i": seq}) for seq in range(201, 401)])
        stuck.set()
        seqs = [got.get(timeout=60)["seq"] for _ in range(400)]
        assert seqs == list(range(1, 401))
    finally:
        publisher.close()
        reader.close()
    assert not list(directory.iterdir())  # both closed: no socket left behind


def test_the_bus_is_chosen_from_the_store_and_the_setting(tmp_path: Path) -> None:
    assert bus_directory(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "x.db-bus"
    assert bus_directory("sqlite://") is None
    assert bus_directory("sqlite:///:memory:") is None
    assert bus_directory("postgresql+psycopg://postgres@127.0.0.1/x") is None

    url = f"sqlite:///{tmp_path / 'plait.db'}"
    c = rt.connect(url, home=tmp_path)
    try:
        assert isinstance(c.bus, SocketBus)
    finally:
        c.close()
    c = rt.connect(url, home=tmp_path, local_bus="process")
    try:
        assert type(c.bus) is LocalBus
    finally:
        c.close()
        client_module._default = None


def test_a_directory_too_long_for_a_socket_address_still_works(tmp_path: Path) -> None:
    directory = tmp_path.joinpath(*["d" * 40] * 4, "plait.db-bus")
    publisher, reader = SocketBus(directory), SocketBus(directory)
    got: queue.SimpleQueue[list[EventDict]] = queue.SimpleQueue()
    reader.subscribe("r", got.put)
    try:
        publisher.publish("r", [_event("r", 1)])
        assert [e["seq"] for e in got.get(timeout=60)] == [1]
    finally:
        publisher.close()
        reader.close()


def test_a_removed_directory_is_made_again_by_the_next_subscriber(tmp_path: Path) -> None:
    directory = tmp_path / "plait.db-bus"
    publisher, reader = SocketBus(directory), SocketBus(directory)
    directory.rmdir()  # someone cleaned up the home while both were open
    got: queue.SimpleQueue[list[EventDict]] = queue.SimpleQueue()
    reader.subscribe("r", got.put)
    try:
        publisher.publish("r", [_event("r", 1)])
        assert [e["seq"] for e in got.get(timeout=60)] == [1]
    finally:
        publisher.close()
        reader.close()


def test_a_reader_that_stopped_reading_costs_its_oldest_announcements_not_memory(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "plait.db-bus"
    publisher, reader = SocketBus(directory), SocketBus(directory)
    stuck, got = threading.Event(), queue.SimpleQueue[int]()

    def listen(batch: list[EventDict]) -> None:
        stuck.wait(60)
        for e in batch:
            got.put(e["seq"])

    reader.subscribe("r", listen)
    try:
        chunk = "x" * (MAX_DATAGRAM - 1000)
        total = 2 * BACKLOG_BYTES // MAX_DATAGRAM
        for seq in range(1, total + 1):
            publisher.publish("r", [_event("r", seq, {"text": chunk})])
        (peer,) = publisher._peers.values()
        assert peer.backlog_bytes <= BACKLOG_BYTES
        stuck.set()
        seqs = [got.get(timeout=60)]
        while seqs[-1] != total:
            seqs.append(got.get(timeout=60))
        assert seqs == sorted(seqs)
        assert len(seqs) < total  # the oldest of the backlog were dropped, the newest arrived
    finally:
        publisher.close()
        reader.close()


def test_a_bus_directory_others_can_reach_is_refused(tmp_path: Path) -> None:
    """Whoever can bind or send in the directory reads every event and can cancel runs:
    a shared or linked one leaves events in this process instead."""
    open_dir = tmp_path / "open.db-bus"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)  # (mkdir's mode passes through the umask)
    with pytest.raises(PermissionError, match="mode 0700"):
        SocketBus(open_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "linked.db-bus").symlink_to(elsewhere)
    with pytest.raises(PermissionError, match="symlink"):
        SocketBus(tmp_path / "linked.db-bus")

    (tmp_path / "shared.db-bus").mkdir()
    (tmp_path / "shared.db-bus").chmod(0o755)
    c = rt.connect(f"sqlite:///{tmp_path / 'shared.db'}", home=tmp_path)
    try:
        assert type(c.bus) is LocalBus  # found by re-reading the table, as before
    finally:
        c.close()
        client_module._default = None
