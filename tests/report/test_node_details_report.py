"""The report shows library nodes' details in their sections: the http node's request
summary, the code node's stdout and stderr, the llm node's token usage and the run's; the
documents they come from are not listed again, and the secret query value shows nowhere."""

from __future__ import annotations

import runtime as rt
from runtime.nodes.http import HIDDEN
from tests import detail_flows


def test_the_report_shows_http_code_and_token_details(sqlite_client: rt.Client) -> None:
    server = detail_flows.FlakyServer()
    try:
        run = detail_flows.graph().run(base=server.base).wait(60)
    finally:
        server.stop()
    assert run.status == "succeeded", run.error
    page = run.report()

    assert 'data-run-tokens="15"' in page
    assert "LLM token usage: <b>11 input + 4 output = 15 tokens</b> (1 llm node)" in page
    fetch = page[page.index('id="node-fetch"') :]
    fetch = fetch[: fetch.index("</section>")]
    assert 'data-http-status="200"' in fetch
    assert f"GET {server.base}/items?api_key={HIDDEN} → 200 in " in fetch
    assert f"{detail_flows.body_size()} bytes, 1 retry" in fetch
    assert "<li>503 in " in fetch  # each try, when there were retries
    clean = page[page.index('id="node-clean"') :]
    clean = clean[: clean.index("</section>")]
    assert f'<pre class="stdout">{detail_flows.STDOUT}\n</pre>' in clean
    assert f'<pre class="stderr">{detail_flows.STDERR}\n</pre>' in clean
    answer = page[page.index('id="node-answer"') :]
    assert 'data-tokens="15"' in answer[: answer.index("</section>")]

    for name in ("http_request", "code_run", "token_usage", "stdout"):
        assert f'data-document="{name}"' not in page  # shown in the node's section instead
    assert detail_flows.API_KEY not in page
