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

# code nodes on a worker: the worker's sandbox runs them; a runaway fails only its node
code = rt.Graph("code_on_workers")
code.add(
    "clean",
    rt.nodes.code(
        source=(
            "def main(n):\n"
            "    import os\n"
            "    return {'double': n * 2, 'plait_env': [k for k in os.environ if 'PLAIT' in k]}"
        ),
        timeout=20,
    ),
)
code.add("spin", rt.nodes.code(source="def main():\n    while True:\n        pass", timeout=2))
code.add("bomb", rt.nodes.code(source="def main():\n    return [0] * (4 << 30)", memory_mb=256))
code.add("worker_pid", lambda clean: __import__("os").getpid())
