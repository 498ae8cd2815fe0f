"""A fake streaming chat model that a test drives chunk by chunk: it streams ``words`` one
chunk each, but only once the file ``go`` exists, and holds the words from ``hold`` on back
until the file ``finish`` exists. Files, so that a test can release a model running in
another process (the studio's). Its answer goes through the real ``llm`` node code path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

import runtime as rt

GATE_SECONDS = 120.0
"""A gate that never opens fails the node after this long, not the test run for ever."""


def _await_file(path: str) -> None:
    deadline = time.monotonic() + GATE_SECONDS
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate file {path} never appeared")
        time.sleep(0.01)


class GatedStreamingModel(GenericFakeChatModel):
    words: list[str]
    go: str
    finish: str
    hold: int = 1

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        _await_file(self.go)
        for i, word in enumerate(self.words):
            if i == self.hold:
                _await_file(self.finish)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))


STORY = ["Once", " upon", " a", " time", " the", " end."]
"""What the model says; the first ``hold`` words stream before the ``finish`` gate."""


def story_graph(name: str, gates: Path, hold: int = 2) -> rt.Graph:
    """``answer``: an llm node telling ``STORY``; ``gates`` is a directory where the test
    creates ``go`` and ``finish``."""
    model = GatedStreamingModel(
        messages=iter([]),
        words=STORY,
        go=str(gates / "go"),
        finish=str(gates / "finish"),
        hold=hold,
    )
    g = rt.Graph(name)
    g.add("answer", rt.nodes.llm(model=model, prompt="Tell a story about {{ inputs.topic }}"))
    return g
