"""The editor's read-only view of a version defined in Python code, and a node's policies
in the config panel, as plain functions (``studio.logic.editor_readonly``,
``studio.logic.editor_policies``)."""

from __future__ import annotations

import pytest

import runtime as rt
from runtime import drafts
from studio.logic import editor, editor_check, editor_drafts, editor_policies, editor_view
from studio.logic import editor_readonly as readonly
from tests.studio import flows


def library_draft() -> dict:
    return {
        "name": "lib",
        "nodes": [
            {"name": "hello", "kind": "template", "options": {"template": "Hi {{ inputs.who }}"}},
            {
                "name": "shout",
                "kind": "transform",
                "options": {"expression": "{loud: nodes.hello.output}"},
            },
        ],
        "inputs": {"who": {"type": "str"}},
    }


def test_a_python_defined_version_is_drawn_whole_its_python_nodes_marked() -> None:
    spec = flows.approval.spec()
    shown = readonly.version_document(spec)
    assert not shown.draftable and "Python code, not library nodes" in shown.why
    assert editor.node_names(shown.doc) == ["draft", "review", "result"]
    assert shown.python == ["draft", "review", "result"]  # a wait is Python-made too
    assert sorted(shown.doc["edges"]) == sorted(spec["edges"])
    # laid out: each node after the one it reads
    x = {n["name"]: n["x"] for n in shown.doc["nodes"]}
    assert x["draft"] < x["review"] < x["result"]
    assert [i["name"] for i in shown.doc["inputs"]] == ["topic"]
    drawn = editor_view.flow_nodes(shown.doc, {}, {}, (), shown.python)
    assert all("plait-python-node" in n["className"] for n in drawn)
    assert all(n["data"]["python"] for n in drawn)
    assert drawn[0]["data"]["kind"] == "function"


def test_a_mixed_version_marks_only_its_function_nodes_and_keeps_options() -> None:
    g = rt.Graph("mixed")
    g.add("draft", flows.draft)
    g.add_node("say", "template", options={"template": "{{ nodes.draft.output }}"}, retries=2)
    spec = g.spec()
    shown = readonly.version_document(spec)
    assert shown.python == ["draft"]
    say = editor.find(shown.doc, "say")
    assert say is not None and say["config"] == {"template": "{{ nodes.draft.output }}"}
    assert say["policies"] == {"retries": 2}
    assert ["draft", "say"] in shown.doc["edges"]
    plain = editor_view.flow_nodes(shown.doc, {}, {}, (), shown.python)
    assert ["plait-python-node" in n["className"] for n in plain] == [True, False]


def test_a_library_version_opens_as_its_draft_would() -> None:
    graph = drafts.build(library_draft())
    shown = readonly.version_document(graph.spec())
    assert shown.draftable and shown.python == [] and shown.why == ""
    assert editor_check.graph_of(shown.doc).version == graph.version


def test_policy_fields_round_trip_through_the_draft_and_the_version() -> None:
    doc = editor_drafts.from_draft(library_draft())
    fields = {f.name: f for f in editor_policies.policy_fields("template", doc["nodes"][0])}
    assert list(fields) == list(editor_policies.SHOWN)
    assert fields["retries"].value == "0" and fields["timeout"].value == ""
    assert fields["cache"].value == "off" and fields["join"].choices == ["all", "any"]
    assert fields["isolation"].choices == ["", "thread", "process"]

    typed = {
        "retries": "2",
        "backoff": "0.5",
        "timeout": "30",
        "isolation": "process",
        "max_interruptions": "5",
        "join": "any",
        "cache": "90",
    }
    for name, text in typed.items():
        value = editor_policies.policy_value("transform", name, text)
        doc = editor_policies.set_policy(doc, "shout", name, value)
    shout = editor.find(doc, "shout")
    assert shout is not None
    expected = {
        "retries": 2,
        "backoff": 0.5,
        "timeout": 30,
        "isolation": "process",
        "max_interruptions": 5,
        "join": "any",
        "cache": 90,
    }
    assert shout["policies"] == expected
    assert [f.value for f in editor_policies.policy_fields("transform", shout)] == list(
        typed.values()
    )
    # the draft holds them under its own keys; the graph it builds runs with them
    draft = editor_drafts.to_draft(doc)
    entry = draft["nodes"][1]
    assert {k: entry[k] for k in expected} == expected
    graph = drafts.build(draft)
    node = graph.nodes["shout"]
    assert (node.retries, node.timeout, node.isolation, node.join) == (2, 30, "process", "any")
    assert node.cache.total_seconds() == 90  # type: ignore[union-attr]
    # a version reopens with them; back at the default a policy leaves the node
    reopened = editor_drafts.from_draft(drafts.draft_from_spec(graph.spec()))
    assert editor.find(reopened, "shout")["policies"] == expected  # type: ignore[index]
    assert editor.find(reopened, "hello").get("policies") is None  # type: ignore[union-attr]
    for name in expected:
        doc = editor_policies.set_policy(
            doc, "shout", name, editor_policies.policy_value("transform", name, "")
        )
    assert "policies" not in editor.find(doc, "shout")  # type: ignore[operator]


def test_cache_takes_off_on_or_seconds() -> None:
    value = editor_policies.policy_value
    assert [value("http", "cache", t) for t in ("off", "", "on", "true", "2.5", "0")] == [
        False,
        False,
        True,
        True,
        2.5,
        False,
    ]
    assert editor_policies.shown("cache", True) == "on"
    assert editor_policies.shown("cache", 60.0) == "60"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("retries", "two", "'two' is not a whole number"),
        ("retries", "-1", "must be 0 or more"),
        ("timeout", "soon", "'soon' is not a number of seconds"),
        ("timeout", "0", "more than 0 seconds"),
        ("backoff", "-2", "not a number of seconds"),
        ("cache", "sometimes", "off, on or a number of seconds"),
        ("isolation", "docker", "not one of thread, process"),
        ("join", "some", "not one of all, any"),
    ],
)
def test_bad_policy_text_is_refused_saying_why(name: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        editor_policies.policy_value("http", name, text)


def test_an_approval_has_no_timeout_policy_its_deadline_option_is_it() -> None:
    names = [f.name for f in editor_policies.policy_fields("approval", {"policies": {}})]
    assert "timeout" not in names and "retries" in names
    with pytest.raises(ValueError, match="deadline option"):
        editor_policies.policy_value("approval", "timeout", "30")


def test_errors_are_shown_on_their_field() -> None:
    fields = editor_policies.policy_fields("http", {}, {"retries": "retries: 'x' is no number"})
    by_name = {f.name: f.error for f in fields}
    assert by_name["retries"] == "retries: 'x' is no number" and by_name["timeout"] == ""
