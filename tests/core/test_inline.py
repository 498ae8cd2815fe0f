"""Short pure sync nodes run on the event loop (``runtime.inline``): the same results as in
a node thread, and anything that could block the loop (globals, attributes, callables in
reach, slow code) stays in the threads."""

from __future__ import annotations

import threading

import runtime as rt
from runtime.inline import pure

LIMIT = 3


def _reads_a_global(x: int) -> int:
    return x + LIMIT


def test_only_code_that_computes_on_its_arguments_counts_as_pure() -> None:
    assert pure(lambda a, b: sum([a, b, max(a, 2)]) * 2)
    assert pure(lambda xs: [x * 2 for x in range(xs)])  # a comprehension's own code too
    assert not pure(_reads_a_global)  # a global may be rebound to anything
    assert not pure(lambda s: s.upper())  # an attribute: any object's code may run
    assert not pure(lambda: print("hi"))  # I/O
    wait = threading.Event().wait
    assert not pure(lambda f=wait: f())  # a callable in reach
    step = 2
    assert pure(lambda x: x + step)  # a closure over a constant
    waiter = threading.Event()
    assert not pure(lambda: waiter)  # over an object
    assert not pure(len)  # not a Python function

    def gen(n: int):  # a generator returns at once and runs later
        yield n

    assert not pure(gen)


def test_pure_nodes_give_the_same_results_run_again_and_again(client: rt.Client) -> None:
    g = rt.Graph("inline_chain")
    g.add("a", lambda x: x + 1)
    g.add("b", lambda a: a * 2)
    g.add("c", lambda a, b: sum([a, b]))
    for x in range(6):  # the first run in threads, later ones on the loop
        run = g.run(x=x).wait(30)
        assert run.status == "succeeded"
        assert run.output("c") == (x + 1) + (x + 1) * 2
        assert [e["type"] for e in run.events() if e["node"] == "b"] == [
            "node.running",
            "node.succeeded",
        ]


def test_code_that_could_block_always_runs_in_a_node_thread(client: rt.Client) -> None:
    g = rt.Graph("inline_threads")
    g.add("where", lambda x: threading.current_thread().name)
    for x in range(4):
        run = g.run(x=x).wait(30)
        assert run.output("where").startswith("plait-node")


def test_a_failing_pure_node_fails_as_it_would_in_a_thread(client: rt.Client) -> None:
    g = rt.Graph("inline_fails")
    g.add("div", lambda x: 10 // x)
    for _ in range(3):
        assert g.run(x=5).wait(30).output("div") == 2
    failed = g.run(x=0).wait(30)
    assert failed.status == "failed"
    assert failed.nodes["div"].error_type == "ZeroDivisionError"
