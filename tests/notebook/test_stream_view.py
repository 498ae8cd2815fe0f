"""The notebook view shows an LLM node's text while it streams, then its output."""

from __future__ import annotations

from pathlib import Path

import runtime as rt
from runtime.notebook.view import RunView, wait_until
from tests.token_models import story_graph


def test_streamed_text_shows_live_and_the_output_replaces_it(
    sqlite_client: rt.Client, tmp_path: Path
) -> None:
    run = story_graph("nb_story", tmp_path).run(topic="owls")
    view = RunView(run, hz=50)
    # running in the view: its follower subscribed before it read the history
    wait_until(lambda: view.model.nodes.get("answer") == "running", timeout=30)
    (tmp_path / "go").touch()
    wait_until(lambda: "Once upon" in view.live.value, timeout=30)
    assert "data-state='streaming'" in view.live.value
    assert run.nodes["answer"].status == "running"  # the rest is held back: it is live
    assert " the end." not in view.live.value

    (tmp_path / "finish").touch()
    wait_until(lambda: "data-state='final'" in view.live.value, timeout=30)
    assert "Once upon a time the end." in view.live.value  # the checkpointed output
    assert "streaming…" not in view.live.value
    assert run.wait(30).output("answer") == "Once upon a time the end."
    assert not [e for e in run.events() if e["type"] == "node.tokens"]  # none stored
