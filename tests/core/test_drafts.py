"""Workflows built as drafts of library nodes: saving with revisions (a stale one is a
conflict, never an overwrite), validation naming node and field, draft test runs, publishing
with message and author, the version list, diff, make current (triggers follow it unless
pinned), archive, duplicate, delete, export/import keeping the version hash, ``rt.workflow``
and the Python export's round trip. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import runpy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import runtime as rt
from runtime import catalog, drafts, export, schedules
from runtime.cli import app as cli
from runtime.errors import InputError, NotFound, RunStateError
from runtime.scheduler import Scheduler
from runtime.secrets import Secrets
from runtime.store.contract import DraftConflict
from tests.conftest import make_client


def greeter(greeting: str = "hello") -> dict[str, Any]:
    return {
        "name": "greeter",
        "description": "Greets someone",
        "nodes": [
            {
                "name": "shout",
                "kind": "transform",
                "options": {"expression": "inputs.who | upper", "language": "jinja"},
            },
            {
                "name": "say",
                "kind": "template",
                "options": {"template": greeting + " {{ nodes.shout.output }}"},
                "retries": 1,
                "position": {"x": 10, "y": 20},  # the editor's: kept, ignored
            },
        ],
        "inputs": {"who": {"type": "str", "description": "Whom to greet"}},
        "test_inputs": {"who": "ada"},
    }


def test_a_stale_revision_is_a_conflict_and_changes_nothing(client: rt.Client) -> None:
    first, problems = drafts.save_draft(client, "greeter", greeter(), None, "alice")
    assert (first.revision, problems) == (1, [])
    second, _ = drafts.save_draft(client, "greeter", greeter("hi"), 1, "bob")
    assert (second.revision, second.updated_by) == (2, "bob")
    with pytest.raises(DraftConflict, match="saved from revision 1, but it is at revision 2"):
        drafts.save_draft(client, "greeter", greeter("hey"), 1, "alice")
    with pytest.raises(DraftConflict, match="saved as a new draft, but it is at revision 2"):
        drafts.save_draft(client, "greeter", greeter("hey"), None, "carol")
    kept = client.store.draft("greeter")
    assert kept is not None and kept.revision == 2
    assert kept.spec["nodes"][1]["options"]["template"].startswith("hi ")


def test_problems_name_node_and_field_and_block_publishing_not_saving(
    client: rt.Client,
) -> None:
    bad = {
        "name": "broken",
        "nodes": [
            {"name": "fetch", "kind": "http", "options": {}},
            {"name": "a", "kind": "template", "options": {"template": "{{ nodes.b.output }}"}},
            {"name": "b", "kind": "template", "options": {"template": "{{ nodes.a.output }}"}},
            {"name": "c", "kind": "template", "options": {"template": "{{ nodes.nope.output }}"}},
            {
                "name": "d",
                "kind": "transform",
                "options": {"expression": "a.[", "language": "jmespath"},
            },
            {"name": "e", "kind": "teleport"},
            {"name": "f", "kind": "template", "options": {"template": "x"}, "after": ["ghost"]},
        ],
    }
    saved, problems = drafts.save_draft(client, "broken", bad, None, "alice")
    assert saved.revision == 1  # saved, problems and all
    where = {(p.node, p.field) for p in problems}
    assert where == {
        ("fetch", "options.url"),
        ("a", "inputs"),
        ("c", "options.template"),
        ("d", "options.expression"),
        ("e", "kind"),
        ("f", "after"),
    }, problems
    said = {(p.node, p.field): p.message for p in problems}
    assert said[("fetch", "options.url")] == "is required"
    assert "cycle: a -> b -> a" in said[("a", "inputs")]
    assert "unknown node 'nope'" in said[("c", "options.template")]
    assert "unknown node kind 'teleport'" in said[("e", "kind")]
    with pytest.raises(drafts.DraftInvalid, match=r"6 problem") as raised:
        drafts.publish_draft(client, "broken", message="try", author="alice")
    assert {"loc": ["fetch", "options.url"], "msg": "is required"} in raised.value.errors
    with pytest.raises(NotFound, match="no published version"):
        client.store.find_version("broken")
    # a Python graph with the same cycle is refused by the same check
    assert drafts.validate({"name": "ok", "nodes": bad["nodes"][5:6]})[0].field == "kind"


def test_test_runs_are_draft_runs_and_publishing_lists_who_when_what(client: rt.Client) -> None:
    drafts.save_draft(client, "greeter", greeter(), None, "alice")
    run = drafts.test_run(client, "greeter", owner="alice").wait(60)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"say": "hello ADA"}
    assert run.record.trigger == "draft" and run.record.owner == "alice"
    assert client.store.version_infos("greeter") == []  # test-run, never published
    assert [r.id for r in client.runs(workflow="greeter", trigger="draft")] == [run.id]

    v1 = drafts.publish_draft(client, "greeter", message="first greeting", author="alice")
    assert v1.version == client.store.get_version(run.record.version_id).version
    drafts.save_draft(client, "greeter", greeter("hi"), 1, "bob")
    v2 = drafts.publish_draft(client, "greeter", message="say hi", author="bob", revision=2)
    infos = client.store.version_infos("greeter")
    assert [(i.version, i.created_by, i.message, i.current) for i in infos] == [
        (v2.version, "bob", "say hi", True),
        (v1.version, "alice", "first greeting", False),
    ]
    assert infos[0].created_at >= infos[1].created_at
    with pytest.raises(DraftConflict):
        drafts.publish_draft(client, "greeter", message="x", author="bob", revision=1)
    with pytest.raises(InputError, match="message"):
        drafts.publish_draft(client, "greeter", message=" ", author="bob")

    found = drafts.diff_specs(v1.spec, v2.spec)
    assert (found.added, found.removed, found.unchanged) == ([], [], ["shout"])
    (change,) = found.changed["say"]
    assert change.field == "options.template"
    assert (change.old, change.new) == (
        "hello {{ nodes.shout.output }}",
        "hi {{ nodes.shout.output }}",
    )


def test_make_current_rolls_back_what_runs_by_name_and_triggers_start(
    client: rt.Client,
) -> None:
    drafts.save_draft(client, "greeter", greeter(), None, "alice")
    v1 = drafts.publish_draft(client, "greeter", message="hello", author="alice")
    drafts.save_draft(client, "greeter", greeter("hi"), 1, "alice")
    v2 = drafts.publish_draft(client, "greeter", message="hi", author="alice")
    schedule, _ = schedules.create(client, "greeter", "* * * * *", inputs={"who": "sched"})
    pinned, _ = schedules.create(
        client, "greeter", "* * * * *", inputs={"who": "pin"}, version=v2.version
    )
    assert client.store.find_version("greeter").version == v2.version
    client.store.make_current("greeter", v1.version[:6])
    assert client.store.find_version("greeter").version == v1.version
    assert [i.current for i in client.store.version_infos("greeter")] == [False, True]
    # Python code publishing a version it published before does not move the current one
    client.publish(drafts.build(greeter("hi")))
    assert client.store.find_version("greeter").version == v1.version

    clock = _Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    scheduler.tick()
    clock.now += dt.timedelta(minutes=1)
    assert len(scheduler.tick()) == 2
    outputs = {}
    for run in client.runs(workflow="greeter", trigger="schedule"):
        outputs[run.record.trigger_ref] = run.wait(60).outputs["say"]
    assert outputs == {
        f"schedule:{schedule.id}": "hello SCHED",  # follows the current version
        f"schedule:{pinned.id}": "hi PIN",  # pinned
    }


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_archive_duplicate_and_delete_only_without_runs(client: rt.Client) -> None:
    drafts.save_draft(client, "greeter", greeter(), None, "alice")
    drafts.publish_draft(client, "greeter", message="one", author="alice")
    client.store.set_archived("greeter", True)
    assert [s.name for s in catalog.workflows(client.store)] == []
    assert [s.archived for s in catalog.workflows(client.store, archived=True)] == [True]
    client.store.set_archived("greeter", False)
    assert [s.name for s in catalog.workflows(client.store)] == ["greeter"]

    copy = drafts.duplicate(client, "greeter", "greeter_copy", by="bob")
    assert copy.spec["name"] == "greeter_copy" and copy.revision == 1
    with pytest.raises(InputError, match="exists already"):
        drafts.duplicate(client, "greeter", "greeter_copy", by="bob")
    drafts.publish_draft(client, "greeter_copy", message="copied", author="bob")

    drafts.test_run(client, "greeter").wait(60)
    with pytest.raises(RunStateError, match="1 runs reference it"):
        client.store.delete_workflow("greeter")
    assert client.store.find_version("greeter")  # nothing deleted
    client.delete_workflow("greeter_copy")
    with pytest.raises(NotFound, match="no workflow named 'greeter_copy'"):
        client.store.find_version("greeter_copy")


def test_export_then_import_into_a_fresh_store_keeps_the_version_hash(
    client: rt.Client, tmp_path: Path
) -> None:
    with_secret = greeter()
    with_secret["nodes"].append(
        {
            "name": "post",
            "kind": "http",
            "options": {
                "url": "http://127.0.0.1:9/{{ nodes.say.output }}",
                "auth": {"type": "bearer", "secret": "API_TOKEN"},
            },
        }
    )
    drafts.save_draft(client, "greeter", with_secret, None, "alice")
    published = drafts.publish_draft(client, "greeter", message="with a post", author="alice")
    doc = export.export_version(client, "greeter")
    text = json.dumps(doc)
    assert doc["version"] == published.version and doc["secrets"] == ["API_TOKEN"]
    assert "API_TOKEN" in text and doc["kinds"] == ["http", "template", "transform"]

    fresh = make_client(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path / "fresh")
    try:
        with pytest.raises(InputError, match=r"secrets not stored here: API_TOKEN"):
            export.import_workflow(fresh, doc)
        odd = json.loads(text)
        odd["draft"]["nodes"][0]["kind"] = "teleport"
        with pytest.raises(InputError, match=r"unknown node kinds: teleport \(node shout\)"):
            export.import_workflow(fresh, odd)
        Secrets(fresh.store, fresh.settings).set("API_TOKEN", "t0ken", by="test")
        imported = export.import_workflow(fresh, doc, author="carol")
        assert imported.version == published.version  # type: ignore[union-attr]
        assert fresh.store.find_version("greeter").version == published.version
        edited = json.loads(text)
        edited["draft"]["nodes"][1]["options"]["template"] = "changed"
        with pytest.raises(InputError, match="edited after the export"):
            export.import_workflow(fresh, edited)
        as_draft = export.import_workflow(fresh, edited, as_draft=True, author="carol")
        assert as_draft.revision == 1  # type: ignore[union-attr]
        with pytest.raises(DraftConflict):
            export.import_workflow(fresh, edited, as_draft=True, author="carol")
    finally:
        fresh.close()


def test_rt_workflow_runs_and_extends_a_studio_built_workflow(client: rt.Client) -> None:
    drafts.save_draft(client, "greeter", greeter(), None, "alice")
    v1 = drafts.publish_draft(client, "greeter", message="one", author="alice")
    g = rt.workflow("greeter")
    assert isinstance(g, rt.Graph) and g.version == v1.version
    assert g.run(who="grace").wait(60).outputs == {"say": "hello GRACE"}

    @g.node
    def exclaim(say: str) -> str:
        return say + "!"

    run = g.run(who="grace").wait(60)
    assert run.outputs == {"exclaim": "hello GRACE!"}
    assert g.version != v1.version
    assert client.store.find_version("greeter").version == g.version  # a new version
    assert rt.workflow("greeter", version=v1.version).version == v1.version
    with pytest.raises(InputError, match="exclaim"):
        export.export_version(client, "greeter")  # its Python node is code, not config


def test_the_python_export_publishes_the_same_version(client: rt.Client, tmp_path: Path) -> None:
    g = rt.Graph("mixed", description="built in Python from library nodes")
    g.add("fetch", rt.nodes.http("https://example.test/{{ inputs.city }}"), retries=2)
    g.add(
        "count",
        rt.nodes.transform("length(@)", input_types={"n": "int"}),
        inputs={"fetch": "fetch"},
    )
    g.add(
        "line",
        rt.nodes.template("{{ inputs.n }} {{ nodes.count.output }}", input_types={"n": "int"}),
    )
    g.add(
        "clean", rt.nodes.code("def main(line, k: int = 3):\n    return line * k"), after=["fetch"]
    )
    published = client.publish(g)
    flow = tmp_path / "flow.py"
    result = CliRunner().invoke(cli, ["export", "mixed", "--python", "-o", str(flow)])
    assert result.exit_code == 0, result.output
    source = flow.read_text()
    assert "rt.nodes.http(" in source and "rt.nodes.code(" in source
    client.delete_workflow("mixed")  # the module publishes it anew
    namespace = runpy.run_path(str(flow), run_name="__main__")
    assert namespace["g"].version == published.version
    assert client.store.find_version("mixed").version == published.version


def test_cli_export_and_import_by_file(client: rt.Client, tmp_path: Path) -> None:
    drafts.save_draft(client, "greeter", greeter(), None, "alice")
    published = drafts.publish_draft(client, "greeter", message="one", author="alice")
    path = tmp_path / "flow.json"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["export", "greeter", "--version", published.version[:8], "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["version"] == published.version
    result = runner.invoke(cli, ["import", str(path), "--name", "greeter_two"])
    assert result.exit_code == 0, result.output
    assert "imported greeter_two" in result.output
    result = runner.invoke(cli, ["import", str(path), "--draft"])
    assert result.exit_code == 0 and "revision 2" in result.output, result.output
    listed = runner.invoke(cli, ["workflows", "versions", "greeter"])
    assert f"* {published.version}" in listed.output and "one" in listed.output
    (tmp_path / "junk.json").write_text("{}")
    result = runner.invoke(cli, ["import", str(tmp_path / "junk.json")])
    assert result.exit_code == 1 and "not a Plait workflow export" in result.output


def test_editors_saving_at_once_from_one_revision_get_one_save_and_conflicts(
    client: rt.Client,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    drafts.save_draft(client, "greeter", greeter(), None, "alice")

    def save(i: int) -> str:
        try:
            drafts.save_draft(client, "greeter", greeter(f"hi{i}"), 1, f"editor{i}")
        except DraftConflict:
            return "conflict"
        return f"saved{i}"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(save, range(6)))
    winners = [o for o in outcomes if o != "conflict"]
    assert len(winners) == 1, outcomes
    kept = client.store.draft("greeter")
    assert kept is not None and kept.revision == 2
    assert kept.updated_by == "editor" + winners[0].removeprefix("saved")


def test_declared_input_types_check_the_run_inputs(client: rt.Client) -> None:
    typed = {
        "name": "doubler",
        "nodes": [
            {
                "name": "twice",
                "kind": "transform",
                "options": {"expression": "inputs.n * 2", "language": "jinja"},
            }
        ],
        "inputs": {"n": {"type": "int", "description": "A number"}},
    }
    drafts.save_draft(client, "doubler", typed, None, "alice")
    with pytest.raises(InputError, match="n"):
        drafts.test_run(client, "doubler", {"n": "many"})
    assert drafts.test_run(client, "doubler", {"n": 4}).wait(60).outputs == {"twice": 8}
    version = drafts.publish_draft(client, "doubler", message="typed", author="alice")
    assert version.spec["nodes"][0]["options"]["input_types"] == {"n": "int"}


def test_rt_workflow_loads_a_python_built_workflow_from_its_code(client: rt.Client) -> None:
    g = rt.Graph("pythonic")

    @g.node
    def base(x: int = 1) -> int:
        return x + 1

    published = client.publish(g)
    loaded = rt.workflow("pythonic")
    assert loaded is not g and loaded.version == published.version
    assert loaded.run(x=2).wait(60).outputs == {"base": 3}
    with pytest.raises(InputError, match=r"base \(function\)"):
        drafts.draft_from_spec(published.spec)


def test_an_approval_in_a_draft_publishes_and_exports_with_its_hash(
    client: rt.Client, tmp_path: Path
) -> None:
    flow = greeter()
    flow["nodes"].append(
        {
            "name": "ok",
            "kind": "approval",
            "options": {"description": "Send it?", "deadline": 600},
            "after": ["say"],
        }
    )
    drafts.save_draft(client, "greeter", flow, None, "alice")
    published = drafts.publish_draft(client, "greeter", message="ask first", author="alice")
    assert rt.Graph.from_spec(published.spec).version == published.version
    doc = export.export_version(client, "greeter")
    source = export.python_module(doc)
    namespace: dict[str, Any] = {}
    exec(compile(source, "flow.py", "exec"), namespace)
    assert namespace["g"].version == published.version
    run = drafts.test_run(client, "greeter").wait(60)
    assert run.status == "waiting" and "ok" in run.waiting


def test_a_draft_checked_by_its_caller_is_saved_without_a_second_validation(
    client: rt.Client,
) -> None:
    broken = {**greeter(), "nodes": [{"name": "x", "kind": "http", "options": {}}]}
    _, problems = drafts.save_draft(client, "greeter", broken, None, "alice")
    assert [p.field for p in problems] == ["options.url"]  # validated as it is saved
    saved, again = drafts.save_draft(client, "greeter", broken, 1, "alice", checked=True)
    assert again == [] and saved.revision == 2  # saved as it is, problems and all
    assert client.store.draft("greeter").spec["nodes"][0]["name"] == "x"  # type: ignore[union-attr]
