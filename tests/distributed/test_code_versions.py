"""A long-lived worker runs each version's own code: editing a node's code under the same
names gives a new version, and the worker that ran the old one runs the new one."""

from __future__ import annotations

import runtime as rt
from tests.code_shapes import SHAPES, expected, graph


def test_a_worker_runs_the_new_code_of_every_edited_shape(dist_client: rt.Client) -> None:
    runs = {}
    for shape in SHAPES:
        for edition in (1, 2):  # the worker loads edition 1 first, then sees edition 2
            runs[shape, edition] = dist_client.start(graph(shape, edition), {"x": 3})
            assert runs[shape, edition].wait(60).status == "succeeded", runs[shape, edition].error
    for (shape, edition), run in runs.items():
        assert run.output("out") == expected(shape, edition), (shape, edition)
    versions = {run.record.version_id for run in runs.values()}
    assert len(versions) == 2 * len(SHAPES)
