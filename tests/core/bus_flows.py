"""What the other process does in the cross-process bus tests (``test_socket_bus.py``), run
as ``python -m tests.core.bus_flows <what> <gate file>`` on the store of ``PLAIT_*``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import runtime as rt

ANSWER = "tokens travel between processes"


def _wait_for(gate_file: str) -> int:
    while not Path(gate_file).exists():
        time.sleep(0.005)
    return 0


def _step(value: int) -> int:
    return value + 1


def chain() -> rt.Graph:
    """A gate, then three nodes in a row."""
    g = rt.Graph("bus_chain")
    g.add("gate", _wait_for)
    g.add("a", _step, inputs={"value": "gate"})
    g.add("b", _step, inputs={"value": "a"})
    g.add("c", _step, inputs={"value": "b"})
    return g


def streaming(gate_file: str) -> rt.Graph:
    """An llm node whose fake model streams its answer word by word once the gate file
    exists (the follower listens). langchain is imported here: the other flows start faster
    without it."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGenerationChunk

    class GatedModel(GenericFakeChatModel):
        gate: str = ""

        def _stream(
            self, messages: list[BaseMessage], *args: Any, **kwargs: Any
        ) -> Iterator[ChatGenerationChunk]:
            _wait_for(self.gate)
            yield from super()._stream(messages, *args, **kwargs)

    g = rt.Graph("bus_tokens")
    model = GatedModel(messages=iter([AIMessage(content=ANSWER)]), gate=gate_file)
    g.add("answer", rt.nodes.llm(model, "Say something"))
    return g


def main() -> None:
    what, gate = sys.argv[1], sys.argv[2]
    client = rt.connect()
    if what == "chain":
        run = client.start(chain(), {"gate_file": gate})
    elif what == "tokens":
        run = client.start(streaming(gate), {})
    elif what == "listen":  # subscribes, says so, and waits to be killed or released
        client.bus.subscribe("nothing", lambda batch: None)
        print("listening", flush=True)
        _wait_for(gate)
        client.close()
        return
    else:
        raise SystemExit(f"unknown flow {what!r}")
    print(run.id, flush=True)
    run.wait(120)
    client.close()


if __name__ == "__main__":
    main()
