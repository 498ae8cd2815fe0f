"""The notebook view's node details for library nodes: the http node's request summary,
the code node's stdout and stderr, the llm node's token usage; the run's usage with the
outputs once it ends, and the documents they come from not listed again."""

from __future__ import annotations

import runtime as rt
from runtime.nodes.http import HIDDEN
from runtime.notebook.view import RunView, wait_until
from tests import detail_flows


def test_the_view_shows_http_code_and_token_details(sqlite_client: rt.Client) -> None:
    server = detail_flows.FlakyServer()
    try:
        run = detail_flows.graph().run(base=server.base).wait(60)
    finally:
        server.stop()
    assert run.status == "succeeded", run.error
    view = RunView(run, hz=50)
    wait_until(lambda: view.model.finished and len(view.outputs.outputs) > 0, timeout=20)

    view.details_pick.value = "fetch"
    shown = view.details.value
    assert "class='plait-http-summary' data-http-status='200'" in shown
    assert f"GET {server.base}/items?api_key={HIDDEN} → 200 in " in shown
    assert f"{detail_flows.body_size()} bytes, 1 retry" in shown
    assert "<li>503 in " in shown and detail_flows.API_KEY not in shown

    view.details_pick.value = "clean"
    shown = view.details.value
    assert f"<pre class='plait-stdout'>{detail_flows.STDOUT}\n</pre>" in shown
    assert f"<pre class='plait-stderr'>{detail_flows.STDERR}\n</pre>" in shown

    view.details_pick.value = "answer"
    assert "tokens: <b>11 input + 4 output = 15 tokens</b>" in view.details.value

    outputs = " ".join(str(o) for o in view.outputs.outputs)
    assert "plait-run-tokens' data-tokens='15'" in outputs
    assert "<b>http_request</b>" not in outputs and "<b>stdout</b>" not in outputs
