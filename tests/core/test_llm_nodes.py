"""``prompt`` and ``llm`` library nodes through the real engine with LangChain's fake chat
models: templated messages, the streamed answer coalesced into one checkpointed output,
token usage per node and per run, structured output, and a prompt node feeding an llm."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

import runtime as rt

SEEN: list[list[tuple[str, Any]]] = []
"""The messages each call was sent (module-level: pydantic models take no class state)."""


class UsageReportingModel(GenericFakeChatModel):
    """Streams word by word like the fake model, and reports usage on its last chunk as
    providers do (OpenAI's ``stream_usage``); remembers the messages it was sent."""

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        SEEN.append([(m.type, m.content) for m in messages])
        yield from super()._stream(messages, *args, **kwargs)
        usage = {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))  # type: ignore[arg-type]


def model(*answers: str) -> UsageReportingModel:
    return UsageReportingModel(messages=iter([AIMessage(content=a) for a in answers]))


def test_an_llm_node_streams_coalesces_and_records_usage(client: rt.Client) -> None:
    SEEN.clear()
    g = rt.Graph("llm_basic")
    g.add("clean", lambda text: text.strip())
    g.add(
        "answer",
        rt.nodes.llm(
            model=model("Paris is the capital"),
            prompt="Summarise {{ nodes.clean.output }}",
            system="Be brief, {{ inputs.who }}.",
        ),
    )
    g.add("shout", rt.nodes.template(template="{{ nodes.answer.output | upper }}"))
    assert g.spec()["edges"] == [["clean", "answer"], ["answer", "shout"]]
    run = g.run(text="  a text about France ", who="bot").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("answer") == "Paris is the capital"
    assert run.output("shout") == "PARIS IS THE CAPITAL"
    assert SEEN == [[("system", "Be brief, bot."), ("human", "Summarise a text about France")]]
    usage = run.token_usage
    assert usage["total_tokens"] == 15 and usage["input_tokens"] == 11
    assert usage["nodes"]["answer"]["calls"][0]["chunks"] > 3  # it streamed
    assert "11 input + 4 output tokens" in (run.nodes["answer"].logs or "")


def test_a_prompt_node_feeds_an_llm_its_chat_messages(sqlite_client: rt.Client) -> None:
    SEEN.clear()
    g = rt.Graph("llm_prompt")
    g.add(
        "chat",
        rt.nodes.prompt(
            messages=[("system", "You answer {{ inputs.lang }}"), ("user", "{{ inputs.q }}")]
        ),
    )
    g.add("text", rt.nodes.prompt("Q: {{ inputs.q }}"))
    g.add("first", rt.nodes.llm(model("Oui"), "{{ nodes.chat.output }}"))
    g.add("second", rt.nodes.llm(model("Two"), "{{ nodes.text.output }}"))
    run = g.run(lang="French", q="Yes?").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("text") == "Q: Yes?"
    assert run.output("first") == "Oui"
    assert [("system", "You answer French"), ("human", "Yes?")] in SEEN
    assert [("human", "Q: Yes?")] in SEEN
    assert run.token_usage["total_tokens"] == 30


class City(pydantic.BaseModel):
    name: str
    population: int


def test_structured_output_to_a_pydantic_model_or_a_json_schema(sqlite_client: rt.Client) -> None:
    g = rt.Graph("llm_structured")
    g.add(
        "city",
        rt.nodes.llm(
            model('```json\n{"name": "Oslo", "population": "700000"}\n```'), "A city", schema=City
        ),
    )
    g.add(
        "loose",
        rt.nodes.llm(
            model('{"name": "Oslo"}'),
            "A city",
            schema={"type": "object", "required": ["name", "population"]},
        ),
    )
    run = g.run().wait(60)
    assert run.output("city") == {"name": "Oslo", "population": 700000}
    assert run.status == "failed"
    assert "the answer lacks population" in (run.nodes["loose"].error or "")


def test_a_provider_string_without_langchain_fails_clearly(
    sqlite_client: rt.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # langchain (with init_chat_model) is an extra of Plait's (plait[llm]): as if not installed
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)
    g = rt.Graph("llm_provider")
    g.add("answer", rt.nodes.llm("openai:gpt-4o-mini", "hi"))
    assert g.spec()["nodes"][0]["options"]["model"] == "openai:gpt-4o-mini"
    run = g.run().wait(60)
    assert run.status == "failed"
    error = run.nodes["answer"].error or ""
    assert "install the langchain package (pip install 'plait[llm]')" in error


def test_bad_llm_options_are_refused_when_built() -> None:
    with pytest.raises(rt.GraphError, match="give prompt or messages"):
        rt.nodes.llm(model("x"))
    with pytest.raises(rt.GraphError, match="not both"):
        rt.nodes.prompt("a", messages=[("user", "b")])
    with pytest.raises(rt.GraphError, match=r"field prompt names unknown node 'ghost'"):
        g = rt.Graph("llm_bad")
        g.add("a", rt.nodes.llm(model("x"), "{{ nodes.ghost.output }}"))
        g.validate()


SUBSCRIBED = threading.Event()
RELEASE = threading.Event()


class PacedModel(GenericFakeChatModel):
    """Streams its words only once a follower listens, and holds its last one back until
    the test saw the first ones live (so the test cannot pass by reading them late)."""

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        assert SUBSCRIBED.wait(30)
        for word in ("Hello", " streaming"):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        assert RELEASE.wait(30)
        yield ChatGenerationChunk(message=AIMessageChunk(content=" world"))


def test_tokens_stream_live_and_only_the_final_message_is_stored(client: rt.Client) -> None:
    SUBSCRIBED.clear()
    RELEASE.clear()
    g = rt.Graph("llm_tokens")
    g.add("answer", rt.nodes.llm(PacedModel(messages=iter([])), "Say hi to {{ inputs.who }}"))
    run = g.run(who="you")
    live: list[str] = []
    for event in run.events(tokens=True, timeout=60):
        SUBSCRIBED.set()  # the follower is subscribed before it reads the history
        if event["type"] == "node.tokens":
            assert event["node"] == "answer" and event["data"]["attempt"] == 1
            live.append(event["data"]["text"])
            if "streaming" in "".join(live):
                RELEASE.set()
    assert run.status == "succeeded", run.error
    assert "".join(live) == "Hello streaming world"
    assert run.output("answer") == "Hello streaming world"
    assert not [e for e in run.events() if e["type"] == "node.tokens"]  # none were stored


class SplitSecretModel(GenericFakeChatModel):
    """Echoes a secret the run was given, split over three chunks (no chunk holds it)."""

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        for piece in ("Your key is sk-li", "ve-abcd", "ef123456, keep it safe."):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def test_a_secret_split_over_streamed_tokens_never_reaches_a_follower(client: rt.Client) -> None:
    g = rt.Graph("llm_tokens_secret")
    g.add("answer", rt.nodes.llm(SplitSecretModel(messages=iter([])), "Check {{ inputs.api_key }}"))
    run = g.run(api_key="sk-live-abcdef123456")
    live = "".join(
        e["data"]["text"] for e in run.events(tokens=True, timeout=60) if e["type"] == "node.tokens"
    )
    assert run.status == "succeeded", run.error
    assert live.startswith("Your key is "), live
    assert "sk-li" not in live and "abcd" not in live  # not even a piece of it
    # what was held back is in the checkpointed output, which every view shows at the end
    assert run.output("answer") == "Your key is sk-live-abcdef123456, keep it safe."
