"""Drafts holding a map of a library node, a sub-graph running a published workflow and a
sleep: their problems named by node and field, test runs, and every way back to the same
version hash (``draft_from_spec``, ``Graph.from_spec``, ``plait export --python``, the same
graph written in Python)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import runtime as rt
from runtime import drafts, export
from runtime.errors import InputError, RunStateError


@pytest.fixture
def site() -> Iterator[str]:
    """A local server: ``/page/<n>`` answers ``n`` bytes, anything else 404."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            size = self.path.removeprefix("/page/")
            status, data = (200, b"x" * int(size)) if size.isdigit() else (404, b"gone")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def sizes(base: str) -> dict[str, Any]:
    return {
        "name": "sizes",
        "inputs": {"paths": {"type": "list", "description": "Pages to fetch"}},
        "nodes": [
            {
                "name": "fetch",
                "kind": "map",
                "options": {
                    "over": "paths",
                    "concurrency": 2,
                    "on_error": "collect",
                    "body": {
                        "kind": "http",
                        "options": {
                            "url": base + "/{{ inputs.paths }}",
                            "retries": 0,
                            "method": "GET",  # a default, written out: the same version
                        },
                    },
                },
            },
            {
                "name": "sized",
                "kind": "transform",
                "options": {"expression": "nodes.fetch.output[*].size"},
            },
        ],
    }


def same_version_every_way(client: rt.Client, published: Any) -> None:
    """The version rebuilt from its spec, opened as a draft and exported as Python."""
    assert rt.Graph.from_spec(published.spec).version == published.version
    assert drafts.build(drafts.draft_from_spec(published.spec)).version == published.version
    source = export.python_module(export.export_version(client, published.spec["name"]))
    namespace: dict[str, Any] = {}
    exec(compile(source, "flow.py", "exec"), namespace)
    assert namespace["g"].version == published.version, source


def test_a_map_of_an_http_node_runs_per_element_and_keeps_its_hash(
    client: rt.Client, site: str
) -> None:
    drafts.save_draft(client, "sizes", sizes(site), None, "alice")
    run = drafts.test_run(client, "sizes", {"paths": ["page/3", "page/5", "nope"]}).wait(60)
    assert run.status == "succeeded", run.error
    # the 404 failed its element (fail_on_status), collected as None
    assert [r and r["status"] for r in run.output("fetch")] == [200, 200, None]
    assert run.output("sized") == [3, 5]
    assert [a.node for a in client.store.element_attempts(run.id, "fetch")] == [
        "fetch[0]",
        "fetch[1]",
        "fetch[2]",
    ]
    published = drafts.publish_draft(client, "sizes", message="map", author="alice")
    same_version_every_way(client, published)
    source = export.python_module(export.export_version(client, "sizes"))
    assert "rt.nodes.map(rt.nodes.http(" in source
    # the same graph written in Python is the same version
    g = rt.Graph("sizes")
    body = rt.nodes.http(site + "/{{ inputs.paths }}", retries=0)
    g.add("fetch", rt.nodes.map(body, over="paths", concurrency=2, on_error="collect"))
    g.add("sized", rt.nodes.transform("nodes.fetch.output[*].size"))
    assert g.version == published.version
    with pytest.raises(InputError, match="paths"):
        drafts.test_run(client, "sizes", {"paths": "page/3"})  # a list is declared


def test_map_problems_name_the_node_and_the_field() -> None:
    draft = sizes("http://x.test")
    draft["inputs"]["words"] = {"type": "str"}
    bad = [
        {"name": "t", "kind": "template", "options": {"template": "hi"}},
        {
            "name": "over_text",
            "kind": "map",
            "options": {
                "over": "t",
                "body": {"kind": "template", "options": {"template": "{{ nodes.t.output }}"}},
            },
        },
        {
            "name": "over_str",
            "kind": "map",
            "options": {
                "over": "words",
                "body": {"kind": "template", "options": {"template": "{{ inputs.words }}"}},
            },
        },
        {"name": "no_body", "kind": "map", "options": {"over": "paths"}},
        {
            "name": "parked",
            "kind": "map",
            "options": {"over": "paths", "body": {"kind": "approval", "options": {}}},
        },
        {
            "name": "unread",
            "kind": "map",
            "options": {
                "over": "paths",
                "body": {"kind": "template", "options": {"template": "{{ inputs.words }}"}},
            },
        },
        {
            "name": "wrong",
            "kind": "map",
            "options": {
                "over": "paths",
                "body": {
                    "kind": "http",
                    "options": {"url": "{{ nodes.ghost.output }}{{ inputs.paths }}", "timeout": -1},
                },
            },
        },
        {
            "name": "timed",
            "kind": "map",
            "timeout": 5,
            "options": {
                "over": "paths",
                "body": {"kind": "template", "options": {"template": "{{ inputs.paths }}"}},
            },
        },
    ]
    draft["nodes"] += bad
    said = {(p.node, p.field): p.message for p in drafts.validate(draft)}
    assert set(said) == {
        ("over_text", "options.over"),
        ("over_str", "options.over"),
        ("no_body", "options.body"),
        ("parked", "options.body.kind"),
        ("unread", "options.over"),
        ("wrong", "options.body.options.timeout"),
        ("timed", "timeout"),
    }, said
    assert "a template node giving text, not a list" in said[("over_text", "options.over")]
    assert "declared str: declare it list" in said[("over_str", "options.over")]
    assert "parks its run" in said[("parked", "options.body.kind")]
    assert "reads no 'paths'" in said[("unread", "options.over")]
    assert "each element's" in said[("timed", "timeout")]
    # an expression of the body naming no node is named at its own field
    draft["nodes"] = [*draft["nodes"][:2], {**bad[6], "options": {**bad[6]["options"]}}]
    draft["nodes"][-1]["options"]["body"] = {
        "kind": "http",
        "options": {"url": "{{ nodes.ghost.output }}{{ inputs.paths }}"},
    }
    [problem] = drafts.validate(draft)
    assert (problem.node, problem.field) == ("wrong", "options.body.options.url")
    assert "unknown node 'ghost'" in problem.message


def stats_draft() -> dict[str, Any]:
    return {
        "name": "stats",
        "inputs": {"text": {"type": "str", "description": ""}},
        "nodes": [
            {
                "name": "count",
                "kind": "transform",
                "options": {"expression": "inputs.text | length", "language": "jinja"},
            }
        ],
    }


def caller(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "caller",
        "inputs": {"title": {"type": "str", "description": ""}},
        "nodes": [
            {"name": "inner", "kind": "graph", "options": options, "inputs": {"text": "title"}},
            {
                "name": "line",
                "kind": "template",
                "options": {"template": "{{ nodes.inner.output.count }} characters"},
            },
        ],
        "test_inputs": {"title": "Durable"},
    }


def test_a_subgraph_runs_a_published_workflow_pinned_and_keeps_its_hash(
    sqlite_client: rt.Client,
) -> None:
    client = sqlite_client
    said = {(p.node, p.field): p.message for p in drafts.validate(caller({"workflow": "stats"}))}
    assert said == {
        ("inner", "options.workflow"): "no workflow named 'stats' is published here (publish "
        "it first)"
    }
    drafts.save_draft(client, "stats", stats_draft(), None, "alice")
    first = drafts.publish_draft(client, "stats", message="count", author="alice")
    wrong = caller({"workflow": "stats", "version": "ffffffff"})
    wrong["nodes"][0]["inputs"] = {"txt": "title"}
    [problem] = drafts.validate(wrong)
    assert (problem.node, problem.field) == ("inner", "options.version")
    assert "no version 'ffffffff'" in problem.message
    wrong["nodes"][0]["options"] = {"workflow": "stats"}
    [problem] = drafts.validate(wrong)
    assert (problem.node, problem.field) == ("inner", "inputs")
    assert "'txt', which is no run input of sub-graph 'stats'" in problem.message

    # without a version the current one is pinned when the draft is built
    drafts.save_draft(client, "caller", caller({"workflow": "stats"}), None, "alice")
    run = drafts.test_run(client, "caller").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("line") == "7 characters"
    published = drafts.publish_draft(client, "caller", message="call", author="alice")
    [entry] = [n for n in published.spec["nodes"] if n["name"] == "inner"]
    assert entry["subgraph"] == {"workflow": "stats", "version": first.version}
    same_version_every_way(client, published)
    assert drafts.draft_from_spec(published.spec)["nodes"][0]["options"] == {
        "workflow": "stats",
        "version": first.version,
    }
    # a newer stats does not change what this version runs; the graph in Python is the same
    newer = stats_draft()
    newer["nodes"][0]["options"]["expression"] = "(inputs.text | length) * 2"
    drafts.save_draft(client, "stats", newer, 1, "alice")
    drafts.publish_draft(client, "stats", message="double", author="alice")
    again = drafts.build(caller({"workflow": "stats", "version": first.version[:8]}))
    assert again.version == published.version
    g = rt.Graph("caller")
    g.add("inner", f"stats@{first.version}", inputs={"text": "title"})
    g.add("line", rt.nodes.template("{{ nodes.inner.output.count }} characters"))
    assert g.version == published.version
    source = export.python_module(export.export_version(client, "caller"))
    assert f"rt.nodes.subgraph('stats@{first.version}')" in source


def test_a_sleep_in_a_draft_is_g_sleeps_node(sqlite_client: rt.Client) -> None:
    client = sqlite_client
    flow = {
        "name": "napper",
        "nodes": [
            {"name": "nap", "kind": "sleep", "options": {"seconds": 0}},
            {"name": "say", "kind": "template", "options": {"template": "up"}, "after": ["nap"]},
        ],
    }
    drafts.save_draft(client, "napper", flow, None, "alice")
    run = drafts.test_run(client, "napper").wait(60)
    assert run.status == "succeeded", run.error
    published = drafts.publish_draft(client, "napper", message="nap", author="alice")
    same_version_every_way(client, published)
    g = rt.Graph("napper")
    g.sleep("nap", seconds=0)
    g.add("say", rt.nodes.template("up"), after=["nap"])
    assert g.version == published.version
    naive = {
        "name": "n",
        "nodes": [{"name": "z", "kind": "sleep", "options": {"until": "2026-01-01T00:00:00"}}],
    }
    [problem] = drafts.validate(naive)
    assert (problem.node, problem.field) == ("z", "options.until") and "naive" in problem.message
    busy = {
        "name": "n",
        "nodes": [{"name": "z", "kind": "sleep", "options": {"seconds": 1}, "retries": 2}],
    }
    [problem] = drafts.validate(busy)
    assert (problem.node, problem.field) == ("z", "retries")


def test_a_function_map_is_still_python_code(sqlite_client: rt.Client) -> None:
    g = rt.Graph("squares")

    @g.map(over="numbers")
    def square(numbers: int) -> int:
        return numbers * numbers

    published = sqlite_client.publish(g)
    assert "body" not in published.spec["nodes"][0]["options"]  # its hash is as it was
    with pytest.raises(InputError, match=r"square \(map\)"):
        drafts.draft_from_spec(published.spec)
    with pytest.raises(rt.GraphError, match=r"square.* map node"):
        rt.Graph.from_spec(json.loads(json.dumps(published.spec)))


def test_the_editor_forms_of_the_new_kinds_come_from_their_options() -> None:
    from studio.logic import editor_forms

    assert {"map", "graph", "sleep"} <= set(drafts.library_kinds())
    body = {"kind": "http", "options": {"url": "{{ inputs.paths }}"}}
    fields = editor_forms.config_fields("map", {"over": "paths", "body": body})
    by_name = {f.name: f for f in fields}
    assert by_name["over"].required and by_name["on_error"].kind == "choice"
    assert by_name["body"].kind == "json" and json.loads(by_name["body"].value) == body
    typed = editor_forms.config_value("map", fields, "body", '{"kind": "sleep"}')
    draft = sizes("http://x.test")
    draft["nodes"][0]["options"]["body"] = typed
    [problem] = drafts.validate(draft)
    assert (problem.node, problem.field) == ("fetch", "options.body.kind")
    with pytest.raises(ValueError, match="body: not JSON"):
        editor_forms.config_value("map", fields, "body", "{kind: http")
    graph = {f.name: f for f in editor_forms.config_fields("graph", {"workflow": "stats"})}
    assert graph["workflow"].required and graph["workflow"].value == "stats"
    assert "version" in graph
    assert {f.name for f in editor_forms.config_fields("sleep", {})} == {
        "seconds",
        "until",
        "until_from",
    }


def _count_words(text: str = "a b") -> int:
    return len(text.split())


def test_a_workflow_run_as_a_sub_graph_is_not_deleted(client: rt.Client) -> None:
    child = rt.Graph("tëxt_stats")  # a name JSON escapes, with a LIKE wildcard
    child.add("count", _count_words)
    published = client.publish(child)
    parent = rt.Graph("uses_child")
    parent.add("stats", f"tëxt_stats@{published.version}")
    client.publish(parent)
    with pytest.raises(RunStateError, match="uses_child run it as a sub-graph"):
        client.delete_workflow("tëxt_stats")
    assert client.store.version_infos("tëxt_stats")  # nothing deleted
    client.delete_workflow("uses_child")
    client.delete_workflow("tëxt_stats")  # no parent left
