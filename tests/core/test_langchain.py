"""LangChain runnables as nodes, through the same code path as a real model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import runtime as rt


def test_prompt_model_parser_chain_as_node(client: rt.Client) -> None:
    model = FakeListChatModel(responses=["Owls are nocturnal.", "Short and sweet."])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You write {style} facts."), ("human", "Tell me about {topic}.")]
    )
    g = rt.Graph("llm")

    @g.node
    def topic(subject: str) -> str:
        return subject.strip().lower()

    g.add("fact", prompt | model | StrOutputParser(), inputs={"topic": "topic", "style": "style"})

    @g.node
    def shout(fact: str) -> str:
        return fact.upper()

    run = g.run(subject="  OWLS ", style="short").wait(10)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"shout": "OWLS ARE NOCTURNAL."}
    assert run.nodes["fact"].status == "succeeded"


def test_single_input_runnable_gets_the_value_and_messages_are_stored(
    client: rt.Client,
) -> None:
    model = FakeListChatModel(responses=["hi there"])
    g = rt.Graph("chat")

    @g.node
    def question(name: str) -> str:
        return f"Say hi to {name}"

    g.add("answer", model, inputs={"input": "question"})

    run = g.run(name="Ada").wait(10)
    assert run.status == "succeeded", run.error
    message = run.output("answer")
    assert isinstance(message, AIMessage)
    assert message.content == "hi there"


def _lambda_two_keys(d: dict) -> str:
    return f"{d['first']} {d['last']}"


def _typed(n: int) -> int:
    return n * 10


def _input_shapes() -> list[tuple[str, Any, dict[str, str], Any]]:
    """(label, runnable, inputs, expected output) for each shape people write."""
    from langchain_core.runnables import RunnableBranch, RunnableLambda, RunnableParallel

    return [
        (
            "prompt",
            ChatPromptTemplate.from_template("hi {name}") | RunnableLambda(lambda p: p.to_string()),
            {"name": "name"},
            "Human: hi Ada",
        ),
        ("lambda_one_key", RunnableLambda(lambda d: d["x"] + 1), {"x": "x"}, 3),
        ("lambda_get", RunnableLambda(lambda d: d.get("x", 0) * 2), {"x": "x"}, 4),
        (
            "lambda_two_keys",
            RunnableLambda(_lambda_two_keys),
            {"first": "first", "last": "last"},
            "Ada Lovelace",
        ),
        (
            "branch",
            RunnableBranch(
                (lambda d: d["x"] > 0, RunnableLambda(lambda d: f"pos {d['x']}")),
                RunnableLambda(lambda d: "neg"),
            ),
            {"x": "x"},
            "pos 2",
        ),
        (
            "parallel",
            RunnableParallel(a=RunnableLambda(lambda d: d["x"]), b=lambda d: d["x"] * 2),
            {"x": "x"},
            {"a": 2, "b": 4},
        ),
        (
            "sequence",
            RunnableLambda(lambda d: d["x"]) | RunnableLambda(lambda v: v * 3),
            {"x": "x"},
            6,
        ),
        ("typed", RunnableLambda(_typed), {"n": "x"}, 20),
        ("typed_sequence", RunnableLambda(_typed) | RunnableLambda(_typed), {"n": "x"}, 200),
    ]


@pytest.mark.parametrize("label", [s[0] for s in _input_shapes()])
def test_runnables_get_the_input_shape_they_declare(sqlite_client: rt.Client, label: str) -> None:
    _, runnable, inputs, expected = next(s for s in _input_shapes() if s[0] == label)
    g = rt.Graph(f"shape_{label}")

    @g.node
    def x() -> int:
        return 2

    g.add("out", runnable, inputs={k: ("x" if v == "x" else v) for k, v in inputs.items()})
    run_inputs = {
        v: {"name": "Ada", "first": "Ada", "last": "Lovelace"}[v]
        for v in inputs.values()
        if v != "x"
    }
    run = g.run(**run_inputs).wait(10)
    assert run.status == "succeeded", run.nodes["out"].traceback
    assert run.output("out") == expected


def test_a_one_key_lambda_declared_without_inputs_gets_its_dict(sqlite_client: rt.Client) -> None:
    from langchain_core.runnables import RunnableLambda

    g = rt.Graph("one_key")
    g.add("out", RunnableLambda(lambda d: d["topic"].upper()))
    assert g.nodes["out"].inputs == {"topic": "topic"}
    run = g.run(topic="owls").wait(10)
    assert run.status == "succeeded", run.nodes["out"].traceback
    assert run.output("out") == "OWLS"
