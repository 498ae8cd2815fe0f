"""A graph of library nodes only, importable by reference (workers load it)."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

import runtime as rt

library = rt.Graph("library_on_workers")
library.add("fetch", rt.nodes.http(url="{{ inputs.base }}/items"))
library.add("count", rt.nodes.transform("length(nodes.fetch.output.json.items)"))
library.add("route", rt.nodes.router({"many": "nodes.count.output > 2"}, default="few"))
library.add("many", rt.nodes.template(template="many: {{ nodes.count.output }}"), after=["route"])
library.add("few", rt.nodes.template(template="few: {{ nodes.count.output }}"), after=["route"])
library.add("review", rt.nodes.approval(["ada"]), after=["many"])
library.add(
    "answer",
    rt.nodes.llm(
        FakeListChatModel(responses=["forty-two"]),
        "{{ nodes.many.output }} approved by {{ nodes.review.output.approver }}",
    ),
)
library.add("pid", lambda answer: __import__("os").getpid())
