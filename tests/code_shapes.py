"""Node code in each shape a version must cover, in two editions: the same names, the code
edited as a person would in a notebook cell (executed as ``__main__`` code, like a cell)."""

from __future__ import annotations

import textwrap
from typing import Any

import runtime as rt

# shape -> (source defining ``node``, edits for edition 1 and 2, output of each for x=3)
SHAPES: dict[str, tuple[str, dict[str, str], dict[str, str], Any, Any]] = {
    "function": ("def node(x):\n    return x {op} 2\n", {"op": "+"}, {"op": "*"}, 5, 6),
    "runnable_lambda": (
        "from langchain_core.runnables import RunnableLambda\n"
        "def f(d):\n    return d['x'] {op} 2\n"
        "node = RunnableLambda(f)\n",
        {"op": "+"},
        {"op": "*"},
        5,
        6,
    ),
    "branch_condition": (
        "from langchain_core.runnables import RunnableBranch, RunnableLambda\n"
        "node = RunnableBranch(\n"
        "    (lambda d: d['x'] {cmp} 0, RunnableLambda(lambda d: 'pos')),\n"
        "    RunnableLambda(lambda d: 'neg'),\n"
        ")\n",
        {"cmp": ">"},
        {"cmp": "<"},
        "pos",
        "neg",
    ),
    "nested_sequence_in_parallel": (
        "from langchain_core.runnables import RunnableLambda, RunnableParallel\n"
        "node = RunnableParallel(\n"
        "    a=RunnableLambda(lambda d: d['x']) | (RunnableLambda(lambda v: v {op} 2) | str),\n"
        ")\n",
        {"op": "+"},
        {"op": "*"},
        {"a": "5"},
        {"a": "6"},
    ),
    "closure": (
        "def make():\n    k = {k}\n    def node(x):\n        return x + k\n    return node\n"
        "node = make()\n",
        {"k": "2"},
        {"k": "3"},
        5,
        6,
    ),
    "partial": (
        "import functools\n"
        "def base(x, *, k):\n    return x {op} k\n"
        "node = functools.partial(base, k=2)\n",
        {"op": "+"},
        {"op": "*"},
        5,
        6,
    ),
    "bound_method": (
        "class Scaler:\n"
        "    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return x {op} self.k\n"
        "node = Scaler(2).apply\n",
        {"op": "+"},
        {"op": "*"},
        5,
        6,
    ),
    "library_config": (
        "from langchain_core.language_models.fake_chat_models import FakeListChatModel\n"
        "from langchain_core.runnables import RunnableLambda\n"
        "model = FakeListChatModel(responses=['{word}'])\n"
        "ask = RunnableLambda(lambda v: f'count {{v}}')\n"
        "node = ask | model | RunnableLambda(lambda m: m.content)\n",
        {"word": "five"},
        {"word": "six"},
        "five",
        "six",
    ),
}


def graph(shape: str, edition: int) -> rt.Graph:
    """The graph ``code_<shape>`` with the shape's code in the given edition (1 or 2)."""
    source, first, second, _, _ = SHAPES[shape]
    namespace: dict[str, Any] = {"__name__": "__main__"}  # as a notebook cell's code
    code = source
    for key, value in (first if edition == 1 else second).items():
        code = code.replace("{" + key + "}", value)
    exec(compile(textwrap.dedent(code), "<cell>", "exec"), namespace)
    g = rt.Graph(f"code_{shape}")
    node = namespace["node"]
    if shape == "library_config":
        g.add("out", node, inputs={"input": "x"})
    elif shape in ("runnable_lambda", "branch_condition", "nested_sequence_in_parallel"):
        g.add("out", node, inputs={"x": "x"})
    else:
        g.add("out", node)
    return g


def expected(shape: str, edition: int) -> Any:
    return SHAPES[shape][3 if edition == 1 else 4]
