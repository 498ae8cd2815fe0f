"""The editor's plain functions: documents and their edits, undo/redo, validation mapped
onto nodes by the runtime's own graph checks, and the config form."""

from __future__ import annotations

import pydantic
import pytest

import runtime as rt
from runtime import drafts, gallery
from runtime.errors import InputError
from runtime.nodes.kind import options_schema
from runtime.nodes.registry import kind_of
from runtime.nodes.secret_options import SECRET_NAME_SCHEMA, named_secrets
from studio.logic import editor, editor_check, editor_drafts, editor_forms, editor_view
from studio.logic.editor_history import History


def two_nodes() -> editor.Document:
    doc = editor.new_document("greeting")
    doc, a = editor.add_node(doc, "template", 0, 0, {"template": "Hello {{ inputs.name }}"})
    doc, b = editor.add_node(doc, "transform", 200, 0, {"expression": "nodes.template.output"})
    return editor.connect(doc, a, b)


def test_the_palette_lists_every_registered_kind_grouped() -> None:
    items = editor.palette()
    kinds = {i.kind for i in items}
    assert {"template", "http", "code", "llm", "router", "function", "map"} <= kinds
    by_kind = {i.kind: i for i in items}
    assert by_kind["http"].group == "Calls" and by_kind["http"].addable
    assert by_kind["function"].group == editor.PYTHON_ONLY and not by_kind["function"].addable
    assert by_kind["template"].doc.startswith("Renders a Jinja2 template")
    groups = [i.group for i in items]
    assert groups.index("Text and data") < groups.index("Calls") < groups.index(editor.PYTHON_ONLY)
    assert [i.kind for i in editor.search(items, "jmespath")] == ["transform"]
    assert editor.search(items, "HTTP request") == [by_kind["http"]]


def test_edits_make_new_documents_and_fresh_names() -> None:
    doc = editor.new_document("w")
    first, name = editor.add_node(doc, "http", 10, 20)
    assert doc["nodes"] == [] and name == "http"
    second, name2 = editor.add_node(first, "http", 0, 0)
    assert name2 == "http_2"
    linked = editor.connect(second, "http", "http_2")
    assert linked["edges"] == [["http", "http_2"]]
    assert editor.connect(linked, "http", "http_2") == linked  # no repeat
    assert editor.connect(linked, "http", "http")["edges"] == linked["edges"]  # no self-loop
    moved = editor.move_nodes(linked, [{"id": "http", "x": 5, "y": 6}])
    assert editor.find(moved, "http") == {
        "name": "http",
        "kind": "http",
        "config": {},
        "x": 5.0,
        "y": 6.0,
    }
    renamed = editor.rename(moved, "http", "fetch page")
    assert editor.node_names(renamed) == ["fetch_page", "http_2"]
    assert renamed["edges"] == [["fetch_page", "http_2"]]
    assert editor.remove(renamed, ["fetch_page"]) == {
        **renamed,
        "nodes": renamed["nodes"][1:],
        "edges": [],
    }
    assert editor.remove(renamed, [], [["fetch_page", "http_2"]])["edges"] == []
    configured = editor.set_config(renamed, "http_2", "url", "https://x")
    assert editor.find(configured, "http_2")["config"] == {"url": "https://x"}  # type: ignore[index]
    assert (
        editor.find(editor.set_config(configured, "http_2", "url", None), "http_2")["config"] == {}
    )  # type: ignore[index]


def test_copy_and_paste_keep_the_edges_between_copied_nodes() -> None:
    doc = two_nodes()
    clip = editor.copied(doc, ["template", "transform"])
    pasted, names = editor.paste(doc, clip)
    assert names == ["template_2", "transform_2"]
    assert ["template_2", "transform_2"] in pasted["edges"]
    assert editor.find(pasted, "template_2")["x"] == 40.0  # type: ignore[index]


def test_undo_and_redo_walk_the_documents() -> None:
    history = History(editor.new_document("w"), limit=3)
    docs = [editor.add_node(history.present, "http", i, 0)[0] for i in range(1)]
    assert history.record(docs[0])
    assert not history.record(docs[0])  # unchanged: nothing recorded
    second = editor.add_node(history.present, "code", 0, 0)[0]
    history.record(second)
    assert history.undo() and history.present == docs[0]
    assert history.redo() and history.present == second
    assert not history.redo()
    history.undo()
    third = editor.add_node(history.present, "sleep", 0, 0)[0]
    history.record(third)
    assert not history.can_redo  # a new edit drops what was undone
    for _ in range(5):
        history.record(editor.add_node(history.present, "sleep", 0, 0)[0])
    undone = 0
    while history.undo():
        undone += 1
    assert undone == 3  # the limit


def test_a_valid_document_builds_the_graph_a_notebook_would() -> None:
    doc = two_nodes()
    assert editor_check.problems(doc) == []
    graph = editor_check.graph_of(doc)
    spec = graph.spec()
    assert spec["edges"] == [["template", "transform"]]
    assert spec["inputs"] == {"name": {"required": True}}


def test_problems_land_on_their_nodes_one_not_hiding_the_next() -> None:
    doc = editor.new_document("broken")
    doc, _ = editor.add_node(doc, "http", 0, 0)  # url is required
    doc, _ = editor.add_node(doc, "template", 0, 0, {"template": "{{ nodes.nowhere.output }}"})
    doc, _ = editor.add_node(doc, "transform", 0, 0, {"expression": "@@"})
    doc, _ = editor.add_node(doc, "filter", 0, 0, {"condition": "nodes.gone.output > 1"})
    doc, _ = editor.add_node(doc, "no_such_kind", 0, 0)
    found = editor_check.problems(doc)
    by_node = editor_check.by_node(found)
    assert by_node["http"] == "options.url: is required"
    assert by_node["transform"].startswith("options.expression:")
    assert "unknown node kind 'no_such_kind'" in by_node["no_such_kind"]
    assert "names unknown node 'nowhere'" in by_node["template"]
    assert "names unknown node 'gone'" in by_node["filter"]  # found after the first one
    with pytest.raises(drafts.DraftInvalid, match=r"http.options.url: is required"):
        editor_check.graph_of(doc)
    # the REST API's check of the same draft finds the same problems
    rest = drafts.validate(editor_drafts.to_draft(doc))
    assert [(p.node, f"{p.field}: {p.message}") for p in rest] == [
        (p.node, p.message) for p in found
    ]


def test_a_cycle_marks_each_of_its_nodes() -> None:
    doc = two_nodes()
    doc, _ = editor.add_node(doc, "template", 0, 0, {"template": "{{ nodes.transform.output }}"})
    doc = editor.connect(doc, "template_2", "template")
    found = editor_check.problems(doc)
    assert len(found) == 1 and found[0].node in {"template", "transform", "template_2"}
    assert "is in a cycle: " in found[0].message


def test_python_only_kinds_and_bad_run_inputs_are_named() -> None:
    doc = editor.new_document("w")
    doc, _ = editor.add_node(doc, "function", 0, 0)
    doc = editor.set_inputs(doc, [{"name": "n", "type": "int", "default": "x"}])
    found = editor_check.problems(doc)
    assert "kind: kind 'function' is not a library node" in editor_check.by_node(found)["function"]
    assert (
        editor_check.Problem(editor_check.GRAPH, "run input 'n': default 'x' is not a int") in found
    )
    empty = editor_check.problems(editor.new_document("w"))
    assert [p.message for p in empty] == ["nodes: the workflow has no nodes yet"]


def test_typed_run_inputs_reach_the_nodes_that_read_them() -> None:
    doc = editor.new_document("typed")
    doc, _ = editor.add_node(doc, "transform", 0, 0, {"expression": "inputs.count"})
    doc = editor.set_inputs(doc, [{"name": "count", "type": "int", "default": "3"}])
    graph = editor_check.graph_of(doc)
    assert graph.nodes["transform"].annotations["count"] is int
    assert editor_check.default_value(doc["inputs"][0]) == 3
    fields = editor_forms.run_fields(doc, {"count": None})
    assert [(f.name, f.kind, f.default, f.required) for f in fields] == [
        ("count", "integer", "3", False)
    ]


def test_expression_wiring_without_an_edge_is_drawn_dashed() -> None:
    doc = two_nodes()
    doc = editor.remove(doc, [], [["template", "transform"]])
    checked = editor_check.check(doc)
    assert checked.wired == [["template", "transform"]]
    edges = editor_view.flow_edges(doc, checked.wired, {})
    assert edges == [
        {
            "id": "template~>transform",
            "source": "template",
            "target": "transform",
            "selectable": False,
            "className": "plait-wired",
            "style": {"strokeDasharray": "4 3"},
            "animated": False,
        }
    ]
    laid = editor.auto_layout(doc, "LR", checked.wired)
    assert editor.find(laid, "transform")["x"] > editor.find(laid, "template")["x"]  # type: ignore[index]


def test_flow_nodes_carry_problems_and_statuses() -> None:
    doc = two_nodes()
    nodes = editor_view.flow_nodes(
        doc, {"transform": "bad"}, {"template": "succeeded"}, ["template"]
    )
    first, second = nodes
    assert first["className"] == "plait-enode-wrap plait-kind-template plait-succeeded"
    assert first["selected"] and first["data"]["status"] == "succeeded"
    assert second["className"].endswith("plait-invalid") and second["data"]["error"] == "bad"


def test_the_config_form_follows_the_schema_and_types_values() -> None:
    fields = editor_forms.config_fields("http", {"url": "{{ inputs.u }}", "retries": 2})
    by_name = {f.name: f for f in fields}
    assert by_name["url"].kind == "text" and by_name["url"].required and by_name["url"].expression
    assert by_name["url"].value == "{{ inputs.u }}"
    assert by_name["method"].kind == "choice" and by_name["method"].choices[:2] == ["", "GET"]
    assert by_name["retries"].kind == "integer" and by_name["retries"].value == "2"
    assert by_name["fail_on_status"].kind == "boolean" and by_name["fail_on_status"].checked
    assert by_name["headers"].kind == "json" and by_name["body"].kind == "code"
    assert "input_types" not in by_name
    assert editor_forms.config_fields("code", {})[0].kind == "code"  # source
    assert editor_forms.config_value("http", fields, "retries", "4") == 4
    assert editor_forms.config_value("http", fields, "headers", '{"a": "b"}') == {"a": "b"}
    assert editor_forms.config_value("http", fields, "url", "  ") is None
    with pytest.raises(ValueError, match="retries: 'x' is not a whole number"):
        editor_forms.config_value("http", fields, "retries", "x")
    with pytest.raises(ValueError, match="headers: not JSON"):
        editor_forms.config_value("http", fields, "headers", "{")


def test_a_document_and_its_draft_round_trip() -> None:
    doc = two_nodes()
    doc, _ = editor.add_node(doc, "template", 40, 90, {"template": "after"})
    doc = editor.connect(doc, "transform", "template_2")  # an edge no expression implies
    doc = editor.set_inputs(
        doc,
        [
            {"name": "name", "type": "str", "default": "Ada", "description": "who"},
            {"name": "n", "type": "int", "default": "3", "description": ""},
        ],
    )
    draft = editor_drafts.to_draft(doc)
    by_name = {n["name"]: n for n in draft["nodes"]}
    assert by_name["transform"]["after"] == []  # its expression reads template already
    assert by_name["template_2"]["after"] == ["transform"]
    assert by_name["template_2"]["position"] == {"x": 40.0, "y": 90.0}
    assert draft["inputs"]["n"] == {"type": "int", "default": "3", "description": ""}
    assert draft["test_inputs"] == {"name": "Ada", "n": 3}
    assert drafts.validate(draft) == []
    assert editor_drafts.from_draft(draft) == doc
    assert editor_drafts.to_draft(editor_drafts.from_draft(draft)) == draft


def test_a_published_version_opens_as_a_laid_out_document() -> None:
    doc = editor.set_inputs(two_nodes(), [{"name": "name", "type": "str", "default": ""}])
    graph = editor_check.graph_of(doc)
    reopened = editor_drafts.from_draft(drafts.draft_from_spec(graph.spec()))
    assert reopened["edges"] == [["template", "transform"]]
    assert editor.find(reopened, "transform")["x"] > editor.find(reopened, "template")["x"]  # type: ignore[index]
    assert editor_check.graph_of(reopened).version == graph.version
    python_graph = {"name": "p", "nodes": [{"name": "f", "kind": "function"}], "inputs": {}}
    with pytest.raises(InputError, match=r"Python code, not library nodes: f \(function\)"):
        drafts.draft_from_spec(python_graph)


def test_options_naming_secrets_are_marked_in_their_schema() -> None:
    class Auth(pydantic.BaseModel):
        secret: str = pydantic.Field(json_schema_extra=SECRET_NAME_SCHEMA)
        user: str = ""

    class PluginOptions(pydantic.BaseModel):
        key: str | None = pydantic.Field(default=None, json_schema_extra=SECRET_NAME_SCHEMA)
        auth: Auth | None = None
        more: list[Auth] = []
        note: str = ""

    schema = PluginOptions.model_json_schema()
    options = {
        "key": "A",
        "auth": {"secret": "B", "user": "C"},
        "more": [{"secret": "D"}, {"secret": "A"}],
        "note": "E",
    }
    assert named_secrets(schema, options) == ["A", "B", "D"]  # in order, each once
    assert named_secrets(schema, {"key": None, "note": "x"}) == []
    llm = options_schema(kind_of("llm"))
    assert named_secrets(llm, {"prompt": "x", "api_key_secret": "OPENAI"}) == ["OPENAI"]
    http = options_schema(kind_of("http"))
    assert named_secrets(http, {"url": "u", "auth": {"type": "basic", "secret": "PW"}}) == ["PW"]


def test_a_secret_field_offers_the_stored_names_and_flags_an_unknown_one() -> None:
    stored = ["OPENAI", "TOKEN"]
    by_name = {
        f.name: f for f in editor_forms.config_fields("llm", {"api_key_secret": "OPENAI"}, stored)
    }
    key = by_name["api_key_secret"]
    assert key.kind == "secret" and key.choices == stored and key.value == "OPENAI"
    assert not key.missing
    assert by_name["model"].kind == "text"  # only the marked fields
    fields = editor_forms.config_fields("llm", {"api_key_secret": "LATER"}, stored)
    assert {f.name: f for f in fields}["api_key_secret"].missing
    assert editor_forms.config_value("llm", fields, "api_key_secret", " LATER ") == "LATER"
    assert editor_forms.config_value("llm", fields, "api_key_secret", "") is None
    unset = editor_forms.config_fields("llm", {}, stored)
    assert not {f.name: f for f in unset}["api_key_secret"].missing


def test_http_auth_is_edited_field_by_field() -> None:
    config = {"url": "https://x", "auth": {"type": "basic", "secret": "PW"}}
    fields = editor_forms.config_fields("http", config, ["PW"])
    auth = {f.name: f for f in fields if f.name.startswith("auth")}
    assert list(auth) == ["auth.type", "auth.secret", "auth.username", "auth.header"]
    assert "auth" not in {f.name for f in fields}  # no JSON box for it
    assert auth["auth.type"].kind == "choice" and auth["auth.type"].value == "basic"
    assert auth["auth.secret"].kind == "secret" and auth["auth.secret"].required
    assert auth["auth.header"].value == "X-API-Key" and auth["auth.header"].default == "X-API-Key"
    assert auth["auth.type"].label == "Auth · Type"
    value = editor_forms.config_value("http", fields, "auth.type", "header")
    assert editor_forms.option_update(config, fields, "auth.type", value) == (
        "auth",
        {"type": "header", "secret": "PW"},
    )
    # a default left as shown, or a field cleared, is left out; nothing left: no auth
    assert editor_forms.option_update(config, fields, "auth.header", "X-API-Key")[1] == {
        "type": "basic",
        "secret": "PW",
    }
    assert editor_forms.option_update({"url": "u"}, fields, "auth.header", "X-API-Key") == (
        "auth",
        None,
    )
    assert editor_forms.option_update({"auth": {"secret": "PW"}}, fields, "auth.secret", None) == (
        "auth",
        None,
    )
    assert editor_forms.option_update(config, fields, "retries", 3) == ("retries", 3)


def test_the_secrets_options_name_are_declared_when_the_draft_is_built() -> None:
    doc = editor.new_document("keys")
    doc, _ = editor.add_node(doc, "http", 0, 0, {"url": "https://x", "auth": {"secret": "TOK"}})
    doc, _ = editor.add_node(
        doc, "llm", 200, 0, {"model": "openai:gpt-4o-mini", "prompt": "hi", "api_key_secret": "K"}
    )
    doc, _ = editor.add_node(doc, "template", 400, 0, {"template": "x"})
    draft = editor_drafts.to_draft(doc)
    assert drafts.validate(draft) == []
    spec = {n["name"]: n for n in drafts.build(draft).spec()["nodes"]}
    assert spec["http"]["secrets"] == ["TOK"] and spec["llm"]["secrets"] == ["K"]
    assert "secrets" not in spec["template"]
    # a secret declared beside the options is kept, before those the options name
    by_name = {n["name"]: n for n in draft["nodes"]}
    by_name["llm"]["secrets"] = ["EXTRA"]
    assert {n["name"]: n for n in drafts.build(draft).spec()["nodes"]}["llm"]["secrets"] == [
        "EXTRA",
        "K",
    ]
    # reopened, a changed option's old secret is gone
    reopened = editor_drafts.from_draft(drafts.draft_from_spec(drafts.build(draft).spec()))
    assert editor.find(reopened, "llm")["secrets"] == ["EXTRA", "K"]  # type: ignore[index]
    changed = editor.set_config(reopened, "http", "auth", {"secret": "NEW"})
    rebuilt = {n["name"]: n for n in drafts.build(editor_drafts.to_draft(changed)).spec()["nodes"]}
    assert rebuilt["http"]["secrets"] == ["NEW"] and rebuilt["llm"]["secrets"] == ["EXTRA", "K"]
    # a published version reopened builds the same version
    graph = editor_check.graph_of(doc)
    back = editor_drafts.from_draft(drafts.draft_from_spec(graph.spec()))
    assert editor_check.graph_of(back).version == graph.version
    twice = drafts.build(draft)
    again = editor_drafts.from_draft(drafts.draft_from_spec(twice.spec()))
    assert editor_check.graph_of(again).version == twice.version  # order kept: same hash


def test_references_name_the_nodes_a_node_may_read_without_a_cycle() -> None:
    doc = editor.set_inputs(two_nodes(), [{"name": "city", "type": "str"}])
    doc, _ = editor.add_node(doc, "template", 0, 100, {"template": "x"})
    doc, _ = editor.add_node(doc, "sleep", 0, 200)
    doc = editor.connect(doc, "sleep", "transform")
    assert editor_forms.references(doc, "transform") == [
        "nodes.template.output",
        "nodes.sleep.output",
        "nodes.template_2.output",
        "inputs.city",
    ]
    # what runs after template (by an edge or by an expression) would close a cycle
    assert editor_forms.references(doc, "template", [["template_2", "sleep"]]) == [
        "nodes.template_2.output",
        "nodes.sleep.output",
        "inputs.city",
    ]
    assert editor_forms.references(doc, "template_2", [["template_2", "sleep"]]) == [
        "nodes.template.output",
        "inputs.city",
    ]


@pytest.mark.parametrize("template", ["url-fetch-map", "subgraph-reuse"])
def test_a_map_body_and_sub_graph_parameters_are_read_and_kept(
    sqlite_client: rt.Client, template: str
) -> None:
    """A map's body and a sub-graph's re-wired parameters are no expressions: the editor
    still sees what they read (the test-run form asks for it) and keeps their wiring."""
    gallery.use_template(sqlite_client, template, "w", author="t")
    draft = sqlite_client.store.draft("w").spec  # type: ignore[union-attr]
    doc = editor_drafts.from_draft(draft)
    checked = editor_check.check(doc)
    assert checked.problems == []
    wanted = {"url-fetch-map": ["urls"], "subgraph-reuse": ["title", "body"]}[template]
    assert checked.run_inputs == wanted
    again = drafts.build({**editor_drafts.to_draft(doc), "name": "w"})
    assert again.version == drafts.build(draft).version  # the same hash


def test_declared_secrets_keep_their_order_through_the_editor() -> None:
    node = {
        "name": "ask",
        "kind": "llm",
        "options": {"model": "openai:gpt-4o-mini", "prompt": "hi", "api_key_secret": "K"},
        "secrets": ["X"],
    }
    first = drafts.build({"name": "keys", "nodes": [node]})
    assert first.spec()["nodes"][0]["secrets"] == ["X", "K"]
    spec = first.spec()
    spec["nodes"][0]["secrets"] = ["K", "X"]  # as an older version may hold them
    reopened = editor_drafts.from_draft(drafts.draft_from_spec(spec))
    rebuilt = drafts.build({**editor_drafts.to_draft(reopened), "name": "keys"})
    assert rebuilt.spec()["nodes"][0]["secrets"] == ["K", "X"]  # no reorder: same hash
    # a changed option drops the secret it named, keeps the declared one, adds the new one
    changed = editor.set_config(reopened, "ask", "api_key_secret", "K2")
    after = drafts.build({**editor_drafts.to_draft(changed), "name": "keys"})
    assert after.spec()["nodes"][0]["secrets"] == ["X", "K2"]
