"""Graphs the replay tests run. Each node notes its execution in a ledger directory named by
``PLAIT_REPLAY_LEDGER`` (read at call time, so it is no part of any node's code digest), so
what a replay executed is plain whichever thread ran it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import runtime as rt


def note(name: str) -> None:
    ledger = os.environ.get("PLAIT_REPLAY_LEDGER")
    if ledger:
        with open(Path(ledger) / name, "a") as f:
            f.write("x")


def executions(ledger: Path) -> dict[str, int]:
    return {p.name: len(p.read_text()) for p in sorted(ledger.iterdir())}


# -- a DataFrame pipeline, and the same with its ``clean`` fixed -----------------------------


def fetch(rows: int) -> pd.DataFrame:
    note("fetch")
    return pd.DataFrame({"id": range(rows), "amount": [(-1) ** i * i * 1.5 for i in range(rows)]})


def clean_buggy(fetch: pd.DataFrame) -> pd.DataFrame:
    note("clean")
    return fetch.copy()  # forgets to drop the refunds


def clean_fixed(fetch: pd.DataFrame) -> pd.DataFrame:
    note("clean")
    return fetch[fetch["amount"] >= 0].reset_index(drop=True)


def features(clean: pd.DataFrame, rate: float = 0.2) -> pd.DataFrame:
    note("features")
    out = clean.copy()
    out["tax"] = out["amount"] * rate
    return out


def summary(features: pd.DataFrame) -> dict:
    note("summary")
    return {"rows": len(features), "total": float(features["amount"].sum())}


def label(title: str) -> str:
    note("label")
    return title.upper()


def pipeline(*, fixed: bool = False) -> rt.Graph:
    g = rt.Graph("replay-pipeline")
    g.add("fetch", fetch)
    g.add("clean", clean_fixed if fixed else clean_buggy)
    g.add("features", features)
    g.add("summary", summary)
    g.add("label", label)
    return g


# -- an LLM chain with a fake chat model -----------------------------------------------------


def topic(subject: str) -> str:
    note("topic")
    return subject.strip().lower()


def shout(fact: str) -> str:
    note("shout")
    return fact.upper()


def tally(shout: str, topic: str) -> dict:
    note("tally")
    return {"topic": topic, "words": len(shout.split())}


def chain(responses: list[str]) -> rt.Graph:
    model = FakeListChatModel(responses=responses)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You write {style} facts."), ("human", "Tell me about {topic}.")]
    )
    g = rt.Graph("replay-llm")
    g.add("topic", topic)
    g.add("fact", prompt | model | StrOutputParser(), inputs={"topic": "topic", "style": "style"})
    g.add("shout", shout)
    g.add("tally", tally)
    return g


# -- a long chain --------------------------------------------------------------------------


def first(seed: int) -> str:
    return "x" * seed


def step(prev: str) -> str:
    return prev  # the same large value all along: one blob, referenced by every row


def long_chain(length: int) -> rt.Graph:
    g = rt.Graph("replay-long")
    g.add("n0", first, inputs={"seed": "seed"})
    for i in range(1, length):
        g.add(f"n{i}", step, inputs={"prev": f"n{i - 1}"})
    return g
