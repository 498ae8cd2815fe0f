"""The editor page's state in-process (no server, no browser): the canvas's events edit the
document, every edit is checked, and shortcuts undo, redo, copy, paste and delete."""

from __future__ import annotations

import asyncio
import inspect

import reflex as rx

import runtime as rt
import studio.studio  # noqa: F401 - registers the pages and their route arguments
from runtime import catalog, drafts
from runtime.nodes.kind import options_schema
from runtime.nodes.registry import kind_of
from runtime.nodes.secret_options import named_secrets
from runtime.secrets import Secrets
from studio.logic import editor
from studio.logic.editor_history import History
from studio.states.editor import EditorState


async def _editor() -> EditorState:
    root = rx.State(_reflex_internal_init=True)
    state = await root.get_state(EditorState)
    state._history = History(editor.new_document("w"))  # type: ignore[attr-defined]
    state._refresh()  # type: ignore[attr-defined]
    return state  # type: ignore[return-value]


def call(state: EditorState, handler: str, *args: object) -> None:
    """As Reflex runs a handler: to its end (an editing one yields its answer, then saves)."""
    result = EditorState.event_handlers[handler].fn(state, *args)
    if inspect.isgenerator(result):
        for _ in result:
            pass


def test_canvas_events_edit_and_check_the_document() -> None:
    async def scenario() -> None:
        state = await _editor()
        assert [p.message for p in state.problems] == ["nodes: the workflow has no nodes yet"]
        call(state, "drop_kind", "template", 10.0, 20.0)
        call(state, "drop_kind", "transform", 300.0, 20.0)
        assert [n["id"] for n in state.flow_nodes] == ["template", "transform"]
        assert state.selected == "transform" and state.flow_nodes[1]["selected"]
        assert {p.node for p in state.problems} == {"template", "transform"}
        call(state, "connect_nodes", "template", "transform")
        assert [e["id"] for e in state.flow_edges] == ["template->transform"]
        call(state, "set_field", "expression", "nodes.template.output")
        call(state, "select_items", ["template"], [])
        assert state.selected == "template" and state.config[0].name == "template"
        call(state, "set_field", "template", "Hi {{ inputs.who }}")
        assert state.problems == []
        assert [f.name for f in state.run_fields] == ["who"]
        # a Python-only kind is refused with a note, not added
        call(state, "drop_kind", "function", 0.0, 0.0)
        assert "notebook" in state.note and len(state.flow_nodes) == 2

        call(state, "moved", [{"id": "template", "x": 99, "y": 1}])
        assert state.flow_nodes[0]["position"] == {"x": 99.0, "y": 1.0}
        call(state, "key", "mod+z")
        assert state.flow_nodes[0]["position"] == {"x": 10.0, "y": 20.0}
        call(state, "key", "mod+shift+z")
        assert state.flow_nodes[0]["position"] == {"x": 99.0, "y": 1.0}

        call(state, "select_items", ["template", "transform"], [])
        call(state, "key", "mod+c")
        call(state, "key", "mod+v")
        assert [n["id"] for n in state.flow_nodes][2:] == ["template_2", "transform_2"]
        assert ["template_2", "transform_2"] in state.doc["edges"]
        call(state, "select_items", ["template_2", "transform_2"], [])
        call(state, "key", "delete")
        assert len(state.flow_nodes) == 2
        call(state, "select_items", [], ["template->transform"])
        call(state, "key", "delete")
        assert state.flow_edges[0]["id"] == "template~>transform"  # the expression still wires it

        call(state, "select_items", ["transform"], [])
        call(state, "set_field", "expression", "@@")
        assert state.problems[0].node == "transform"
        call(state, "focus_node", "transform")
        assert state.focus.startswith("transform#") and state.selected == "transform"

    asyncio.run(scenario())


def test_edits_save_to_the_draft_and_a_stale_one_raises_the_conflict(
    pg_client: rt.Client,
) -> None:
    """On a real store: each committed edit saves the draft from the revision it loaded; a
    save another editor made in between is never overwritten; publish takes a message."""

    async def scenario() -> None:
        root = rx.State(_reflex_internal_init=True)
        state = await root.get_state(EditorState)
        await EditorState.event_handlers["load"].fn(state)
        assert state.workflow == "untitled" and state.draft_status == "not saved yet"
        call(state, "drop_kind", "template", 10.0, 20.0)  # type: ignore[arg-type]
        call(state, "set_field", "template", "Hi {{ inputs.who }}")  # type: ignore[arg-type]
        saved = pg_client.store.draft("untitled")
        assert saved is not None and saved.revision == 2
        assert saved.spec["nodes"][0]["options"] == {"template": "Hi {{ inputs.who }}"}
        assert saved.spec["nodes"][0]["position"] == {"x": 10.0, "y": 20.0}
        call(state, "moved", [{"id": "template", "x": 70, "y": 80}])  # type: ignore[arg-type]
        call(state, "key", "mod+z")  # type: ignore[arg-type]
        undone = pg_client.store.draft("untitled")
        assert undone is not None and undone.revision == 4
        assert undone.spec["nodes"][0]["position"] == {"x": 10.0, "y": 20.0}

        # refused with the problems while the draft has one
        call(state, "set_field", "template", "{{ nodes.gone.output }}")  # type: ignore[arg-type]
        await EditorState.event_handlers["publish"].fn(state, {"message": "v1"})
        assert "not published" in state.publish_note
        assert any("unknown node 'gone'" in p for p in state.publish_problems)
        call(state, "set_field", "template", "Hi {{ inputs.who }}")  # type: ignore[arg-type]
        await EditorState.event_handlers["publish"].fn(state, {"message": "v1"})
        (version,) = catalog.versions(pg_client.store, "untitled")
        assert version.message == "v1" and version.created_by
        assert "published version" in state.note

        # someone else saves: this editor's next edit is refused, the other save kept
        other = pg_client.store.draft("untitled")
        assert other is not None
        drafts.save_draft(
            pg_client, "untitled", {**other.spec, "description": "bob"}, other.revision, "bob"
        )
        call(state, "moved", [{"id": "template", "x": 500, "y": 5}])  # type: ignore[arg-type]
        assert state.conflict == "someone else saved this draft: reload to see their changes"
        kept = pg_client.store.draft("untitled")
        assert kept is not None and kept.spec["description"] == "bob"
        assert kept.spec["nodes"][0]["position"] == {"x": 10.0, "y": 20.0}
        await EditorState.event_handlers["publish"].fn(state, {"message": "v2"})
        assert state.publish_note == state.conflict  # nor is a stale draft published
        await EditorState.event_handlers["load"].fn(state)
        assert state.conflict == "" and state.doc["description"] == "bob"

    asyncio.run(scenario())


def test_a_secret_is_picked_by_name_and_declared_in_the_draft(pg_client: rt.Client) -> None:
    """An editor is offered the stored secrets' names (never their values); what a node's
    options name ends in its ``secrets`` in the saved draft."""
    Secrets(pg_client.store, pg_client.settings).set("OPENAI_KEY", "sk-test-123456", by="t")

    async def scenario() -> None:
        root = rx.State(_reflex_internal_init=True)
        state = await root.get_state(EditorState)
        await EditorState.event_handlers["load"].fn(state)
        call(state, "drop_kind", "llm", 0.0, 0.0)  # type: ignore[arg-type]
        key = {f.name: f for f in state.config}["api_key_secret"]
        assert key.kind == "secret" and key.choices == ["OPENAI_KEY"]
        assert "sk-test" not in repr(state.config)
        call(state, "set_field", "api_key_secret", "OPENAI_KEY")  # type: ignore[arg-type]
        call(state, "drop_kind", "http", 300.0, 0.0)  # type: ignore[arg-type]
        call(state, "set_field", "auth.secret", "LATER")  # type: ignore[arg-type]
        assert {f.name: f for f in state.config}["auth.secret"].missing
        call(state, "set_field", "auth.type", "basic")  # type: ignore[arg-type]
        saved = pg_client.store.draft("untitled")
        assert saved is not None
        nodes = {n["name"]: n for n in saved.spec["nodes"]}
        assert nodes["llm"]["options"] == {"api_key_secret": "OPENAI_KEY"}
        assert nodes["http"]["options"] == {"auth": {"secret": "LATER", "type": "basic"}}
        # what the options name is what the nodes they build declare (LibraryKind.prepare)
        for node, wanted in (("llm", ["OPENAI_KEY"]), ("http", ["LATER"])):
            kind = kind_of(nodes[node]["kind"])
            assert named_secrets(options_schema(kind), nodes[node]["options"]) == wanted

    asyncio.run(scenario())


def test_a_python_defined_version_is_shown_read_only_and_every_edit_refused(
    pg_client: rt.Client,
) -> None:
    """A current version with function nodes opens as its own graph, read only: the
    handlers refuse every change on the server (not only the hidden buttons), nothing is
    saved, a function node shows its source."""
    from tests.studio import flows

    g = rt.Graph("untitled", description="from a notebook")
    g.add("draft", flows.draft)
    g.add_node("say", "template", options={"template": "{{ nodes.draft.output }}"}, retries=2)
    pg_client.publish(g, message="from code", make_current=True)

    async def scenario() -> None:
        root = rx.State(_reflex_internal_init=True)
        state = await root.get_state(EditorState)
        await EditorState.event_handlers["load"].fn(state)
        assert state.read_only and state.banner.startswith("Defined in Python code: read only")
        assert not state.can_open_draft and state.problems == []
        assert [n["id"] for n in state.flow_nodes] == ["draft", "say"]
        assert "plait-python-node" in state.flow_nodes[0]["className"]
        assert "plait-python-node" not in state.flow_nodes[1]["className"]
        before = state.doc

        call(state, "select_items", ["draft"], [])
        assert state.selected_kind == "function"
        assert "def draft(topic: str" in state.detail.source
        assert state.config == []
        call(state, "select_items", ["say"], [])
        assert '"template"' in state.detail.config
        assert {f.name: f.value for f in state.policies}["retries"] == "2"

        call(state, "drop_kind", "template", 0.0, 0.0)
        call(state, "add_kind", "sleep")
        call(state, "moved", [{"id": "say", "x": 999, "y": 9}])
        call(state, "connect_nodes", "say", "draft")
        call(state, "set_field", "template", "changed")
        call(state, "set_policy", "retries", "5")
        call(state, "rename_selected", "other")
        call(state, "set_title", "renamed")
        call(state, "add_input")
        call(state, "key", "delete")
        call(state, "layout")
        assert state.doc == before and state.note == "read only: this version is not edited here"
        await EditorState.event_handlers["publish"].fn(state, {"message": "no"})
        assert "read only" in state.publish_note
        assert pg_client.store.draft("untitled") is None  # nothing was saved
        await EditorState.event_handlers["open_as_draft"].fn(state)
        assert pg_client.store.draft("untitled") is None  # not a version of library nodes

    asyncio.run(scenario())


def test_an_older_version_opens_as_the_draft_then_edits_its_policies(
    pg_client: rt.Client,
) -> None:
    """``?version=`` shows that version read only; "Open as draft" makes it the draft from
    the draft's revision (a save in between: the conflict banner), then it is edited."""
    from studio.states import editor as editor_state
    from studio.states.base import permitted

    def version(template: str) -> str:
        draft = {
            "name": "untitled",
            "nodes": [{"name": "hello", "kind": "template", "options": {"template": template}}],
        }
        return pg_client.publish(drafts.build(draft), message=template, make_current=True).version

    old = version("old")
    version("new")
    drafts.save_draft(pg_client, "untitled", {"name": "untitled", "nodes": []}, None, "t")

    async def scenario() -> None:
        root = rx.State(_reflex_internal_init=True)
        state = await root.get_state(EditorState)
        principal = (await permitted(state, "write", "edit"))[0]
        assert principal is not None
        state._apply(editor_state.load_document("untitled", old[:10]), "untitled", principal)  # type: ignore[attr-defined]
        assert state.read_only and state.can_open_draft and state.shown_version == old
        assert state.doc["nodes"][0]["config"] == {"template": "old"}
        call(state, "set_policy", "retries", "2")
        assert pg_client.store.draft("untitled").spec["nodes"] == []  # type: ignore[union-attr]

        # someone saves the draft meanwhile: opening is refused with the conflict banner
        other = pg_client.store.draft("untitled")
        assert other is not None
        drafts.save_draft(pg_client, "untitled", other.spec, other.revision, "bob")
        await EditorState.event_handlers["open_as_draft"].fn(state)
        assert state.conflict == editor_state.CONFLICT
        assert pg_client.store.draft("untitled").spec["nodes"] == []  # type: ignore[union-attr]

        state._apply(editor_state.load_document("untitled", old), "untitled", principal)  # type: ignore[attr-defined]
        await EditorState.event_handlers["open_as_draft"].fn(state)
        assert not state.read_only and state.conflict == ""
        saved = pg_client.store.draft("untitled")
        assert saved is not None and saved.spec["nodes"][0]["options"]["template"] == "old"
        call(state, "select_items", ["hello"], [])
        call(state, "set_policy", "retries", "two")
        assert {f.name: f.error for f in state.policies}["retries"].endswith("not a whole number")
        call(state, "set_policy", "retries", "2")
        call(state, "set_policy", "timeout", "30")
        assert all(f.error == "" for f in state.policies)
        node = pg_client.store.draft("untitled").spec["nodes"][0]  # type: ignore[union-attr]
        assert (node["retries"], node["timeout"]) == (2, 30)
        assert drafts.build(pg_client.store.draft("untitled").spec).nodes["hello"].timeout == 30  # type: ignore[union-attr]

    asyncio.run(scenario())
