"""The node panel's details rows (``studio.logic.node_details``) from ``runtime.details``."""

from __future__ import annotations

from runtime import details
from studio.logic.node_details import MAX_STREAM, DetailsPanel, panel

SPEC = {"nodes": [{"name": "f", "kind": "http"}, {"name": "c", "kind": "code"}]}


def test_an_http_nodes_summary_lists_its_tries_and_the_attempt() -> None:
    doc = {
        "attempt": 2,
        "method": "POST",
        "url": "http://h/x",
        "status": 500,
        "elapsed_ms": 3.5,
        "size": 12,
        "retries": 1,
        "tries": [
            {"error": "ConnectError", "elapsed_ms": 1.0},
            {"status": 500, "elapsed_ms": 3.5, "size": 12},
        ],
        "error": "HttpStatusError: node 'f': POST http://h/x answered 500",
    }
    found = details.read(SPEC, [("f", "http_request", doc)])
    p = panel(found.node("f"), found.usage)
    assert p.http == "POST http://h/x → 500 in 3.5 ms, 12 bytes, 1 retry"
    assert p.http_status == "500"
    assert p.http_tries == ["#1 ConnectError after 1 ms", "#2 500 in 3.5 ms, 12 bytes"]
    assert p.http_error.endswith("answered 500")
    assert p.attempt == "from attempt 2"
    assert p.tokens == "" and p.stdout == ""


def test_long_code_output_keeps_its_end_and_no_details_is_an_empty_panel() -> None:
    text = "x" * (MAX_STREAM + 10) + "END"
    found = details.read(SPEC, [("c", "stdout", text), ("c", "code_run", {"attempt": 1})])
    p = panel(found.node("c"), found.usage)
    assert p.stdout.endswith("END") and p.stdout.startswith("[... 13 characters left out]")
    assert p.attempt == ""
    assert panel(None, details.RunUsage()) == DetailsPanel()
