"""Values come back exactly on workers: a node on a worker process sees what a node in the
caller's process would (tests/core/test_exact_values.py has the matrix)."""

from __future__ import annotations

import pytest

import runtime as rt
from tests.core.test_exact_values import VALUES, _graph, describe


@pytest.mark.parametrize(
    "label",
    ["series_with_freq", "numpy_float64", "nested_messages", "frame_categorical_tz"],
)
def test_a_value_reads_the_same_on_a_worker(dist_client: rt.Client, label: str) -> None:
    expected = describe(VALUES[label]())
    run = dist_client.start(_graph(label, gated=True), {}).wait(60)
    assert run.status == "waiting", run.error
    run.resume("gate", go=True)  # the consumer runs in a later pass, from the store
    assert run.wait(60).status == "succeeded", run.nodes["consume"].error
    assert run.output("consume") == expected
    assert describe(run.output("produce")) == expected
