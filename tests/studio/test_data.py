"""The reads behind the pages, on SQLite and PostgreSQL: catalogue summaries, run lists,
node details, starting a stored version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import runtime as rt
from runtime import catalog, sharing
from runtime.errors import InputError, NotFound
from runtime.redaction import REDACTED
from studio import data
from studio.logic.run_page import RunPage
from tests import secret_flows
from tests.secret_flows import assert_no_secret
from tests.studio import flows


def test_workflow_summaries(client: rt.Client) -> None:
    flows.failing.run().wait(30)
    ok = flows.approval.run(topic="a").wait(30)
    client.publish(flows.typed)
    summaries = {s.name: s for s in catalog.workflows(client.store)}
    assert set(summaries) == {"studio_failing", "studio_approval", "studio typed inputs"}
    approval = summaries["studio_approval"]
    assert approval.node_count == 3 and approval.versions == 1
    assert approval.latest_version == flows.approval.version
    assert (approval.last_run_id, approval.last_run_status) == (ok.id, "waiting")
    assert approval.runs_last_day == 1
    assert summaries["studio_failing"].last_run_status == "failed"
    never = summaries["studio typed inputs"]
    assert never.last_run_id is None and never.runs_last_day == 0
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert catalog.workflows(client.store, now=tomorrow)[0].runs_last_day == 0
    found = catalog.search(list(summaries.values()), "HUMAN decision")
    assert [s.name for s in found] == ["studio_approval"]


def test_runs_are_filtered_paged_and_counted(client: rt.Client) -> None:
    started = [flows.failing.run(n=i).wait(30) for i in range(3)]
    started.append(flows.approval.run().wait(30))
    rows, total = catalog.runs(client.store, limit=2)
    assert total == 4 and [r.id for r in rows] == [started[3].id, started[2].id]
    rows, total = catalog.runs(client.store, limit=2, offset=2)
    assert [r.id for r in rows] == [started[1].id, started[0].id]
    rows, total = catalog.runs(client.store, workflow="studio_failing", status="failed")
    assert total == 3 and {r.status for r in rows} == {"failed"}
    assert rows[0].version == flows.failing.version and rows[0].duration is not None
    _, total = catalog.runs(client.store, status=["waiting", "succeeded"], trigger="sdk")
    assert total == 1
    _, total = catalog.runs(client.store, trigger="api")
    assert total == 0


def test_versions_by_hash_prefix_and_clear_misses(client: rt.Client) -> None:
    client.publish(flows.approval)
    version = catalog.version(client.store, "studio_approval", flows.approval.version[:6])
    assert version.version == flows.approval.version
    assert catalog.versions(client.store, "studio_approval")[0].runs == 0
    with pytest.raises(NotFound, match=r"no workflow named 'nope' \(workflows: studio_approval\)"):
        catalog.version(client.store, "nope")
    with pytest.raises(NotFound, match="no version 'ffff'"):
        catalog.version(client.store, "studio_approval", "ffff")


def test_start_version_checks_inputs_against_the_spec(client: rt.Client) -> None:
    version = client.publish(flows.typed)
    with pytest.raises(InputError, match=r"missing required input\(s\): count"):
        client.start_version(version.id, {})  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"unexpected input\(s\): colour"):
        client.start_version(version.id, {"count": 1, "colour": "red"})  # type: ignore[arg-type]
    run = client.start_version(version.id, {"count": 2, "loud": True}).wait(30)  # type: ignore[arg-type]
    assert run.record.trigger == "studio"
    assert run.output("echo") == {"count": 2, "ratio": 0.5, "label": "X"}


def test_node_detail_of_a_failed_node(client: rt.Client) -> None:
    run = flows.failing.run(n=4).wait(30)
    spec = run.spec
    detail = data.node_detail(client, run.id, "explode", spec)
    assert detail.status == "failed" and detail.error_type == "ZeroDivisionError"
    assert "in _divide" in detail.traceback and "about to divide" in detail.logs
    assert [(a.number, a.status) for a in detail.attempts] == [(1, "failed")]
    assert [(i.param, i.what) for i in detail.inputs] == [("load", "node")]
    loaded = data.node_detail(client, run.id, "load", spec)
    assert loaded.output.kind == "json" and loaded.output.summary == "list: 4 items"
    assert [(i.param, i.value) for i in loaded.inputs] == [("n", "4")]


def test_node_detail_previews_tables_and_markdown(client: rt.Client, tmp_path: Path) -> None:
    gate = tmp_path / "open"
    gate.touch()
    run = flows.gated.run(gate_file=str(gate)).wait(30)
    spec = run.spec
    table = data.node_detail(client, run.id, "prepare", spec).output
    assert table.kind == "table" and table.summary == "DataFrame: 3 rows, 2 columns"
    assert table.columns == ["", "n", "square"] and table.rows[2] == ["2", "2", "4"]
    summary = data.node_detail(client, run.id, "summary", spec)
    assert summary.output.kind == "markdown"
    (doc,) = summary.documents
    assert (doc.name, doc.kind, doc.preview.kind) == ("squares", "table", "table")
    assert doc.preview.summary == "DataFrame: 8 rows, 2 columns"
    header = data.run_header(client, run.id)
    assert header is not None and header.workflow == "studio_gated"
    assert [(kv.key, kv.value) for kv in header.inputs] == [("gate_file", f'"{gate}"')]
    assert data.run_header(client, "0" * 32) is None
    (out,) = data.outputs(client, run.id)
    assert out.name == "summary" and out.preview.kind == "markdown"


def test_the_run_page_follows_a_waiting_run_from_its_events(client: rt.Client) -> None:
    run = flows.approval.run().wait(30)
    page = RunPage.create(run.spec)
    page.apply(run.events(stop_at_end=False, timeout=0))
    later = run.record.created_at.timestamp() + 60
    shown = page.render(now=later)
    assert shown["run_status"] == "waiting" and shown["progress"] == "1 of 3 nodes done · 1 waiting"
    (form,) = shown["waits"]
    assert form.node == "review" and form.title == "Approve the draft"
    assert [f.name for f in form.fields] == ["amount", "decision", "note"]
    assert page.render(now=later) == {}  # nothing new, nothing to send


def test_run_form_is_typed_when_the_code_loads(client: rt.Client) -> None:
    version = client.publish(flows.typed)
    fields = {f.name: f.kind for f in data.run_form_fields(client, version.id, version.spec)}  # type: ignore[arg-type]
    assert fields == {"count": "integer", "ratio": "number", "label": "text", "loud": "boolean"}


def test_share_links_are_listed_newest_first_and_revoked_only_for_their_run(
    client: rt.Client,
) -> None:
    run = flows.failing.run(n=1).wait(30)
    other = flows.failing.run(n=2).wait(30)
    sharing.create_link(run.id, created_by="studio")
    sharing.create_link(run.id, expires_in=dt.timedelta(days=7))
    sharing.create_link(run.id, expires_in=dt.timedelta(seconds=-1))
    rows = data.share_links(client, run.id)
    assert [r.state for r in rows] == ["expired", "active", "active"]
    assert rows[1].expires == "in 6 d" and rows[2].expires == "never"
    assert rows[2].created_by == "studio" and data.share_links(client, other.id) == []
    with pytest.raises(NotFound):
        sharing.revoke_link(rows[2].id, run_id=other.id, client=client)
    sharing.revoke_link(rows[2].id, run_id=run.id, client=client)
    assert [r.state for r in data.share_links(client, run.id)] == ["expired", "active", "revoked"]


def test_run_page_reads_show_no_secret(client: rt.Client) -> None:
    run = secret_flows.run_to_the_end()
    header = data.run_header(client, run.id)
    assert header is not None
    assert dict((kv.key, kv.value) for kv in header.inputs) == {"db_password": f'"{REDACTED}"'}
    texts = [repr(header.inputs)]
    for node in ("connect", "check", "approve", "confirm"):
        detail = data.node_detail(client, run.id, node, header.spec)
        assert detail.status in ("succeeded", "failed")
        texts.append(repr(detail))
    check = data.node_detail(client, run.id, "check", header.spec)
    assert check.error == f"login refused for ada with {REDACTED}"
    assert "PermissionError" in check.traceback and check.attempts[0].error
    connect = data.node_detail(client, run.id, "connect", header.spec)
    assert "connecting with" in connect.logs
    assert [r.value for r in connect.inputs if r.param == "api_key"] == [f'default "{REDACTED}"']
    outputs = data.outputs(client, run.id)
    assert [o.name for o in outputs] == ["confirm"]
    texts.append(repr(outputs))
    # the run page's own text, built from events alone
    page = RunPage.create(header.spec, redactor=header.shown)
    page.apply(run.events())
    texts.append(repr(page.render()))
    for text in texts:
        assert_no_secret(text, "the run page")


def test_a_triggered_runs_header_says_what_started_it_and_links_there(client: rt.Client) -> None:
    g = rt.Graph("header_triggers")
    g.add("one", lambda payload: payload)
    version = client.publish(g)
    hooked = client.start_version(
        version.id, {"payload": {}}, trigger="webhook", trigger_ref="delivery:12"
    ).wait(30)
    header = data.run_header(client, hooked.id)
    assert header is not None
    assert header.started_by == "webhook delivery 12"
    assert header.started_by_href == "/workflows/header_triggers#webhooks"
    scheduled = client.start_version(
        version.id, {"payload": {}}, trigger="schedule", trigger_ref="schedule:3"
    ).wait(30)
    header = data.run_header(client, scheduled.id)
    assert header is not None
    assert (header.started_by, header.started_by_href) == ("schedule 3", "/schedules")
