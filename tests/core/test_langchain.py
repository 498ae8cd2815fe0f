"""LangChain runnables as nodes, through the same code path as a real model."""

from __future__ import annotations

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
