"""The run page's streamed text, from events alone: it grows with ``node.tokens`` events in
whatever order they come relative to the attempt's stored events, and gives way to the
output when the attempt ends."""

from __future__ import annotations

from runtime.events import token_event
from runtime.live_text import StreamedText
from runtime.redaction import Redactor
from studio.logic import live
from studio.logic.run_page import RunPage
from tests.studio.test_logic import ev

SPEC = {"name": "story", "nodes": [{"name": "answer", "kind": "llm"}], "edges": []}


def test_text_grows_then_gives_way_to_the_output() -> None:
    page = RunPage.create(SPEC)
    # the first burst may come with (or before) the attempt's running event
    batch = [token_event("r", "answer", 1, "Once"), ev(1, "node.running", "answer", attempt=1)]
    assert page.apply(batch) == {"answer"}
    assert page.apply_tokens(batch) == {"answer"}
    page.apply_tokens([token_event("r", "answer", 1, " upon")])
    assert page.stream_text("answer") == "Once upon"
    assert page.view.streams.streaming == {"answer"}
    node = page.render()["flow_nodes"][0]
    assert "plait-streaming" in node["className"] and node["data"]["label"].endswith("\u270e")

    page.apply([ev(2, "node.succeeded", "answer", attempt=1)])
    assert page.stream_text("answer") == "" and page.view.streams.streaming == frozenset()
    assert page.apply_tokens([token_event("r", "answer", 1, " late")]) == set()  # stale
    assert "plait-streaming" not in page.render()["flow_nodes"][0]["className"]


def test_a_new_attempt_starts_its_text_afresh() -> None:
    view = live.new_view(["answer"])
    live.apply(view, [ev(1, "node.running", "answer", attempt=1)])
    live.apply_tokens(view, [token_event("r", "answer", 1, "first try")])
    live.apply(view, [ev(2, "node.retrying", "answer", attempt=1)])
    assert view.streams.of("answer") == ""
    live.apply_tokens(view, [token_event("r", "answer", 2, "second")])
    live.apply(view, [ev(3, "node.running", "answer", attempt=2)])  # its event came later
    assert view.streams.of("answer") == "second"
    live.apply(view, [ev(4, "run.failed", None, status="failed")])
    assert view.streams.streaming == frozenset()  # a finished run streams nothing
    assert live.apply_tokens(view, [token_event("r", "answer", 3, "x")]) == set()


def test_the_text_is_redacted_and_bounded() -> None:
    page = RunPage.create(SPEC, redactor=Redactor(["hunter2"]))
    page.apply([ev(1, "node.running", "answer", attempt=1)])
    page.apply_tokens([token_event("r", "answer", 1, "pw is hunter2")])
    assert "hunter2" not in page.stream_text("answer")
    bounded = StreamedText(limit=10)
    bounded.add(token_event("r", "answer", 1, "x" * 50))
    assert bounded.of("answer") == "x" * 10
