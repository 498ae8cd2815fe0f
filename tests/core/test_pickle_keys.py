"""Keys never destroy work: a process without the store's pickle key does not mint one, a
value pickled with another key leaves its run recoverable (no node left running), the right
key finishes it with ``plait recover``, and forged pickles are never unpickled."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import runtime as rt
from runtime import client as client_module
from runtime import signing
from runtime.errors import MissingSecretKey
from runtime.store import tables

ROOT = Path(__file__).parents[2]


class Box:
    def __init__(self, x: int) -> None:
        self.x = x


def boxed() -> rt.Graph:
    g = rt.Graph("pickle_keys", pickle=True)

    @g.node
    def make() -> Box:
        return Box(3)

    g.wait("gate", {"go": bool}, after=["make"])

    @g.node(after=["gate"])
    def use(make: Box) -> int:
        return make.x * 2

    return g


@pytest.fixture
def waiting(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A run waiting after a node whose output is pickled: (run id, its pickle key id, the
    publisher's signing key)."""
    home = tmp_path / "writer"
    writer = rt.connect(db_url, home=home)
    run = boxed().run().wait(10)
    assert run.status == "waiting", run.error
    signer = writer.keyring.signer
    assert signer is not None
    writer.close()
    client_module._default = None
    yield run.id, signing.key_id(writer.secret_key), signer.text()


def _plait(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        timeout=120,
    )


def test_no_key_next_to_pickled_values_stops_naming_the_key(
    db_url: str, tmp_path: Path, waiting: tuple[str, str, str]
) -> None:
    _, key_id, _ = waiting
    with pytest.raises(MissingSecretKey) as info:
        rt.connect(db_url, home=tmp_path / "elsewhere")
    message = str(info.value)
    for named in (key_id, "PLAIT_SECRET_KEY", "PLAIT_HOME", str(tmp_path / "elsewhere")):
        assert named in message, named
    assert info.value.expected == [key_id]
    assert not (tmp_path / "elsewhere" / "secret_key").exists()  # nothing minted

    env = {"PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "elsewhere")}
    env.pop("PLAIT_SECRET_KEY", None)
    done = _plait("recover", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert key_id in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "elsewhere" / "secret_key").exists()


def test_a_store_without_pickles_still_gets_a_key_made(db_url: str, tmp_path: Path) -> None:
    c = rt.connect(db_url, home=tmp_path / "fresh")
    try:
        assert (tmp_path / "fresh" / "secret_key").exists()
        assert c.store.pickle_key_ids() == []
    finally:
        c.close()
        client_module._default = None


def test_a_wrong_key_leaves_the_run_recoverable_and_the_right_key_finishes_it(
    db_url: str, tmp_path: Path, waiting: tuple[str, str, str]
) -> None:
    run_id, key_id, signing_key = waiting
    wrong = rt.connect(
        db_url, home=tmp_path / "wrong", secret_key="not-the-key", signing_key=signing_key
    )
    try:
        wrong.get_run(run_id).resume("gate", go=True)

        def stalled() -> bool:
            record = wrong.store.get_run(run_id)
            return record.error is not None and record.lease_owner is None

        _await(stalled)  # the pass gives the run up, saying why
        record = wrong.store.get_run(run_id)
        assert record.status == "running"  # not failed: a process with the key may go on
        assert key_id in (record.error or "") and "UnknownPickleKey" in (record.error or "")
        statuses = {n: i.status for n, i in wrong.get_run(run_id).nodes.items()}
        assert statuses["make"] == "succeeded" and statuses["use"] != "running"
    finally:
        wrong.close()
        client_module._default = None

    env = {"PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "writer")}
    done = _plait("recover", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    reader = rt.connect(db_url, home=tmp_path / "writer")
    try:
        finished = reader.get_run(run_id)
        assert finished.status == "succeeded" and finished.outputs == {"use": 6}
        assert finished.record.error is None
    finally:
        reader.close()
        client_module._default = None


def test_a_forged_pickle_under_the_right_key_id_is_never_unpickled(
    db_url: str, tmp_path: Path, waiting: tuple[str, str, str]
) -> None:
    run_id, key_id, _ = waiting
    effect = tmp_path / "effect"

    class Evil:
        def __reduce__(self) -> tuple:
            return (Path.touch, (effect,))

    import pickle

    forged = b"PLAIT-HMAC2:" + key_id.encode() + b"\0" * 32 + pickle.dumps(Evil())
    reader = rt.connect(db_url, home=tmp_path / "writer")
    try:
        with reader.store.write() as conn:
            conn.execute(
                sa.update(tables.node_run)
                .where(tables.node_run.c.run_id == run_id, tables.node_run.c.node == "make")
                .values(output_inline=forged)
            )
        with pytest.raises(rt.SignatureError, match="tampered"):
            reader.get_run(run_id).output("make")
        run = reader.get_run(run_id).resume("gate", go=True).wait(20)
        assert run.status == "failed"
        assert "tampered" in (run.nodes["use"].error or "")
        assert not effect.exists()
    finally:
        reader.close()
        client_module._default = None


def test_pickles_name_their_key_and_old_ones_still_load() -> None:
    key = b"k" * 32
    blob = signing.dumps_signed({"a": 1}, key)
    assert signing.signer_of(blob) == signing.key_id(key)
    assert signing.key_id(key).encode() not in key
    old = b"PLAIT-HMAC1" + signing.hmac.new(key, b"x", "sha256").digest() + b"x"
    assert signing.verify(old, key) == b"x"
    with pytest.raises(rt.errors.UnknownPickleKey):
        signing.loads_signed(blob, b"other")


def _await(condition, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)
