"""Values come back exactly as they went in: same types, dtypes, index freq and attrs, whether a
reader gets them from memory in the same pass, from the store after a resume, or in another
process; and nothing of that needs ``pickle=True``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

import runtime as rt
from runtime import codecs
from runtime.store import tables


def _series_with_freq() -> pd.Series:
    series = pd.Series(
        [1.5, 2.5, 3.5], index=pd.date_range("2026-01-01", periods=3, freq="D"), name=7
    )
    series.attrs = {"unit": "kWh"}
    return series


def _frame() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "kind": pd.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True),
            "at": pd.date_range("2026-03-28", periods=3, freq="h", tz="Europe/Paris"),
            "x": np.array([1, 2, 3], dtype=np.int16),
        },
        index=pd.timedelta_range("1s", periods=3, freq="s"),
    )
    df.attrs = {"source": "meter", "version": 2}
    return df


def _history() -> list[Any]:
    return [
        SystemMessage("be brief"),
        HumanMessage("hi", name="ada"),
        AIMessage(
            "hello",
            id="m1",
            tool_calls=[{"name": "lookup", "args": {"q": "owls"}, "id": "c1"}],
            usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
        ),
    ]


VALUES: dict[str, Callable[[], Any]] = {
    "series_with_freq": _series_with_freq,
    "numpy_float64": lambda: np.float64(2.5),
    "numpy_int32": lambda: np.int32(-7),
    "numpy_datetime64": lambda: np.datetime64("2026-01-02T03:04", "m"),
    "numpy_array": lambda: np.arange(12, dtype=np.float32).reshape(3, 4),
    "numpy_fortran_bool": lambda: np.asfortranarray(np.eye(3, dtype=bool)),
    "nested_messages": lambda: {"history": _history(), "turns": (1, np.int64(2))},
    "messages_from_parallel": lambda: {"a": AIMessage("x"), "b": AIMessage("y")},
    "frame_categorical_tz": _frame,
    "frame_default_index": lambda: pd.DataFrame({"a": [1.5, 2.5]}),  # a RangeIndex stays one
    "frame_stepped_range_index": lambda: pd.DataFrame(
        {"a": [1, 2]}, index=pd.RangeIndex(10, 0, -5, name="countdown")
    ),
    "dict_of_frames_and_arrays": lambda: {"f": _frame(), "a": np.zeros(2), 3: [None, b"\x00"]},
    "tuple_of_json": lambda: (1, "two", [3.0], {"four": None}),
}


def describe(value: Any) -> str:
    """Everything that must survive, as text: types all the way down, dtypes, freq, attrs."""
    if isinstance(value, pd.DataFrame):
        return (
            f"DataFrame({value.dtypes.to_dict()!r}, index={value.index!r}, attrs={value.attrs!r},"
            f" {value.to_dict('list')!r})"
        )
    if isinstance(value, pd.Series):
        shown = (value.name, str(value.dtype), value.index, value.attrs, list(value))
        return f"Series{shown!r}"
    if isinstance(value, np.ndarray):
        return f"ndarray({value.dtype}, {value.shape}, {value.tolist()!r})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return type(value).__name__ + "[" + ", ".join(describe(v) for v in value) + "]"
    return f"{type(value).__module__}.{type(value).__qualname__}({value!r})"


def _graph(label: str, *, gated: bool) -> rt.Graph:
    g = rt.Graph(f"exact_{label}_{'gated' if gated else 'direct'}")
    make = VALUES[label]

    @g.node
    def produce() -> Any:
        return make()

    if gated:  # the consumer then runs after a resume, reading produce's value from the store
        g.wait("gate", {"go": bool}, after=["produce"])

    @g.node(after=["gate"] if gated else [])
    def consume(produce: Any) -> str:
        return describe(produce)

    return g


@pytest.mark.parametrize("label", list(VALUES))
def test_a_value_reads_the_same_from_memory_from_the_store_and_after_a_resume(
    client: rt.Client, label: str
) -> None:
    expected = describe(VALUES[label]())
    direct = _graph(label, gated=False).run().wait(20)
    assert direct.status == "succeeded", direct.nodes["produce"].error
    assert direct.output("consume") == expected  # in memory, same pass
    assert describe(direct.output("produce")) == expected  # loaded from the store

    gated = _graph(label, gated=True).run().wait(20)
    assert gated.status == "waiting", gated.error
    gated.resume("gate", go=True)
    assert gated.wait(20).status == "succeeded", gated.nodes["consume"].error
    assert gated.output("consume") == expected


def test_a_chat_history_is_a_run_input_and_an_output_without_pickle(client: rt.Client) -> None:
    g = rt.Graph("chat_history")

    @g.node
    def reply(history: list) -> list:
        return [*history, AIMessage(f"you said {history[-1].content}")]

    run = g.run(history=[HumanMessage("hello")]).wait(10)
    assert run.status == "succeeded", run.nodes["reply"].error
    assert run.inputs == {"history": [HumanMessage("hello")]}
    assert run.output("reply") == [HumanMessage("hello"), AIMessage("you said hello")]


def test_large_members_go_to_the_blob_table_on_their_own(client: rt.Client) -> None:
    frame = pd.DataFrame({"x": np.arange(50_000)})
    g = rt.Graph("big_members")

    @g.node
    def first() -> dict:
        return {"frame": frame, "note": "one"}

    @g.node
    def second() -> tuple:
        return ("two", [frame, np.arange(3)])  # the same frame, deeper down

    run = g.run().wait(20)
    assert run.status == "succeeded", run.error
    pd.testing.assert_frame_equal(run.output("first")["frame"], frame)
    back = run.output("second")
    pd.testing.assert_frame_equal(back[1][0], frame)
    assert back[0] == "two" and back[1][1].tolist() == [0, 1, 2]
    for node in ("first", "second"):
        (attempt,) = client.store.node_attempts(run.id, node)
        assert attempt.output_inline is not None  # the tree itself is small now
    with client.store.read() as conn:
        blobs = conn.execute(sa.select(tables.blob.c.size)).scalars().all()
    assert len(blobs) == 1  # the frame, once for both

    h = rt.Graph("big_member_input")

    @h.node
    def rows(data: dict) -> int:
        return len(data["frame"])

    taken = h.run(data={"frame": frame}).wait(20)
    assert taken.status == "succeeded" and taken.output("rows") == 50_000
    pd.testing.assert_frame_equal(taken.inputs["data"]["frame"], frame)


class Opaque:
    pass


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"history": [1, 2, Opaque()]}, "['history'][2] is a tests.core.test_exact_values.Opaque"),
        ({"ids": {1, 2}}, "['ids'] is a set"),
        ([np.array([object()], dtype=object)], "[0] is a numpy.ndarray of dtype object"),
        ({(1, 2): "pair"}, "[(1, 2)] is a dict key of type tuple"),
    ],
)
def test_cannot_store_names_the_innermost_type_and_its_path(value: Any, where: str) -> None:
    with pytest.raises(rt.CodecError) as caught:
        codecs.encode(value, what="output of node 'x'")
    message = str(caught.value)
    assert message.startswith(f"output of node 'x': {where}"), message
    assert "builtins" not in message and "pickle=True" in message


def test_an_unstorable_member_fails_the_node_naming_its_path(client: rt.Client) -> None:
    g = rt.Graph("bad_member")

    @g.node
    def x() -> dict:
        return {"history": ["a", "b", Opaque()]}

    run = g.run().wait(10)
    assert run.status == "failed"
    assert "output of node 'x': ['history'][2] is a " in run.nodes["x"].error  # type: ignore[operator]


def test_an_unstorable_run_input_is_refused_naming_its_path(client: rt.Client) -> None:
    g = rt.Graph("bad_input_member")

    @g.node
    def turns(history: list) -> int:
        return len(history)

    with pytest.raises(rt.CodecError) as caught:
        g.run(history=["hi", Opaque()])
    message = str(caught.value)
    assert message.startswith("run input 'history': [1] is a tests.core.test_exact_values.Opaque")
    assert "use one of those" in message  # an input is given, not returned
    assert client.store.list_runs() == []


def test_attrs_keep_every_entry_json_can_hold_and_warn_nobody() -> None:
    series = pd.Series([1.0, 2.0])
    series.attrs = {"unit": "kWh", "taken": pd.Timestamp("2026-01-01"), "n": [1, 2]}
    frame = series.to_frame("x")
    frame.attrs = dict(series.attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyarrow's "Could not serialize attrs" included
        for value in (series, frame):
            encoded = codecs.encode(value)
            back = codecs.decode(encoded.codec, encoded.data)
            assert back.attrs == {"unit": "kWh", "n": [1, 2]}
    assert "taken" in series.attrs  # the value given is left as it was


def test_messages_decode_without_a_beta_warning() -> None:
    from langchain_core.load import dumpd

    old_form = codecs.Encoded("langchain", codecs.json.dumps(dumpd(AIMessage("old"))).encode())
    new_form = codecs.encode(AIMessage("new"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert codecs.decode(old_form.codec, old_form.data) == AIMessage("old")
        assert codecs.decode(new_form.codec, new_form.data) == AIMessage("new")


def test_values_decode_the_same_in_another_process(tmp_path: Path) -> None:
    encoded = {label: codecs.encode(make()) for label, make in VALUES.items()}
    for label, enc in encoded.items():
        (tmp_path / f"{label}.{enc.codec}").write_bytes(enc.data)
    script = (
        "import json, sys, pathlib\n"
        "from runtime import codecs\n"
        "from tests.core.test_exact_values import describe\n"
        "seen = {}\n"
        "for p in pathlib.Path(sys.argv[1]).iterdir():\n"
        "    label, codec = p.name.split('.', 1)\n"
        "    seen[label] = describe(codecs.decode(codec, p.read_bytes()))\n"
        "print(json.dumps(seen))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::Warning", "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    ).stdout
    assert codecs.json.loads(out) == {label: describe(make()) for label, make in VALUES.items()}


RUN_AND_HANG = """
import os
import threading
from pathlib import Path

import runtime as rt
from tests.core.test_exact_values import VALUES, describe

g = rt.Graph("exact_recovered")
for i, label in enumerate(VALUES):
    g.add(f"p{i}", (lambda make: lambda: make())(VALUES[label]))


def hold() -> None:
    marker = os.environ.get("PLAIT_TEST_HANG")
    if marker:  # only in the first process: it is killed here, after every value is stored
        Path(marker).touch()
        threading.Event().wait()


def consume(value):
    return describe(value)


g.add("hold", hold, after=[f"p{i}" for i in range(len(VALUES))])
for i in range(len(VALUES)):
    g.add(f"c{i}", consume, inputs={"value": f"p{i}"}, after=["hold"])
run = g.run()
print(run.id, flush=True)
run.wait()
"""


def test_a_value_reads_the_same_after_a_kill_and_recover(db_url: str, tmp_path: Path) -> None:
    """The readers run in the process ``plait recover`` starts, from the stored values."""
    root = Path(__file__).parents[2]
    marker = tmp_path / "hanging"
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(tmp_path),
        "PYTHONPATH": str(root),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", RUN_AND_HANG],
        env={**env, "PLAIT_TEST_HANG": str(marker)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None and time.monotonic() < deadline, "the run never got to hold"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert f"run {run_id}: succeeded" in recovered.stdout
    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        for i, (label, make) in enumerate(VALUES.items()):
            assert run.nodes[f"p{i}"].attempts == 1, label  # stored before the kill, kept
            assert run.output(f"c{i}") == describe(make()), label
    finally:
        client.close()
