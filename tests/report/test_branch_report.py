"""A report shows a branch's untaken path greyed, with why each node was skipped."""

from __future__ import annotations

import re

import runtime as rt
from tests.core.test_branches import _routed


def test_the_report_greys_untaken_nodes_and_says_why(client: rt.Client) -> None:
    g, _ = _routed()
    run = g.run(amount=500).wait(30)
    assert run.status == "succeeded", run.error
    page = run.report()
    section = re.search(r'<section class="node" id="node-small".*?</section>', page, re.S)
    assert section is not None
    assert 'data-untaken="true"' in section.group(0)
    assert "skipped (untaken)" in section.group(0)
    assert "not taken: branch &#39;route&#39; took big" in section.group(0)
    assert re.search(r'<g class="node" data-node="small" data-status="skipped" data-untaken', page)
    assert not re.search(r'<g class="node" data-node="big"[^>]*data-untaken', page)
