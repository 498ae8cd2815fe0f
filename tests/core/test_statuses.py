"""Statuses and event types are defined once (``runtime.statuses``), and every view shows a
node the same way: ``run.nodes``, the REST API, the report, the notebook view, the studio."""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import time
from pathlib import Path

import pytest

import runtime as rt
from runtime import statuses
from runtime.api import run_detail
from runtime.notebook.view import RunModel, RunView
from studio.logic import live
from tests.core import retry_flows
from tests.core.retry_flows import executions

ROOT = Path(__file__).parent.parent.parent
VOCABULARY = {*statuses.RUN_STATUSES, *statuses.NODE_STATUSES}


def _literal_status_sets(path: Path) -> list[int]:
    """Lines of tuple, list and set literals made only of status names (two or more), outside
    ``Literal[...]`` annotations."""
    tree = ast.parse(path.read_text())
    in_literal: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
            in_literal |= {id(n) for n in ast.walk(node.slice)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and id(node) not in in_literal:
            items = node.elts
            if len(items) >= 2 and all(
                isinstance(e, ast.Constant) and e.value in VOCABULARY for e in items
            ):
                found.append(node.lineno)
    return found


def test_status_sets_are_written_in_one_module() -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for package in ("runtime", "studio")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "statuses.py" and (lines := _literal_status_sets(path))
    }
    assert offenders == {}


def test_the_tables_describe_every_status_and_event() -> None:
    assert set(statuses.RUN_TRANSITIONS) == set(statuses.RUN_STATUSES)
    assert set(statuses.NODE_TRANSITIONS) == set(statuses.NODE_STATUSES)
    for status in statuses.RUN_FINISHED - statuses.RUN_RETRYABLE:
        assert statuses.RUN_TRANSITIONS[status] == frozenset()
    node_events = {e for e in statuses.EVENT_TYPES if e.startswith("node.")}
    assert node_events == set(statuses.NODE_EVENT_STATUS)
    assert set(statuses.NODE_EVENT_STATUS.values()) <= set(statuses.NODE_STATUSES)
    assert statuses.label("not_needed") == "not needed"


def test_every_event_a_run_writes_is_a_known_type(client: rt.Client, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    failed = retry_flows.flaky.run(ledger=str(ledger), fix=str(tmp_path / "fix")).wait(30)
    (tmp_path / "fix").touch()
    failed.retry().wait(30)
    partial = retry_flows.flaky.run(ledger=str(ledger), outputs=["side"]).wait(30)
    waited = retry_flows.gated.run(ledger=str(ledger)).wait(30)
    waited.cancel()
    seen = {e["type"] for run in (failed, partial, waited) for e in run.events()}
    assert seen <= set(statuses.EVENT_TYPES), seen - set(statuses.EVENT_TYPES)
    assert {"run.retried", "node.not_needed", "node.skipped", "run.cancelled"} <= seen
    # each run moved only along the transition table, and each node too
    for run in (failed, partial, waited):
        moves = [e["data"]["status"] for e in run.events() if "status" in e["data"]]
        for before, after in itertools.pairwise(moves):
            assert after == before or after in statuses.RUN_TRANSITIONS[before], (before, after)
        for name in (n["name"] for n in run.spec["nodes"]):
            steps = ["pending"]
            for e in run.events():
                if e["node"] == name and e["type"] in statuses.NODE_EVENT_STATUS:
                    steps.append(statuses.NODE_EVENT_STATUS[e["type"]])
                elif e["type"] == "run.retried" and name in e["data"]["restart"]:
                    steps.append("pending")
            for before, after in itertools.pairwise(steps):
                assert after in statuses.NODE_TRANSITIONS[before], (name, before, after)


@pytest.fixture
def backing_off(client: rt.Client, tmp_path: Path) -> tuple[rt.Run, list]:
    """A run whose node failed once and waits (two minutes at least) for its next attempt."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    run = retry_flows.slow_retry.run(ledger=str(ledger))
    events = []
    for event in run.events(stop_at_end=False, timeout=30):
        events.append(event)
        if event["type"] == "node.retrying":
            break
    assert events[-1]["type"] == "node.retrying" and executions(ledger) == {"wobbly": 1}
    return run, events


def test_a_node_waiting_to_retry_is_retrying_in_every_view(
    backing_off: tuple[rt.Run, list],
) -> None:
    run, events = backing_off
    info = run.nodes["wobbly"]
    assert info.status == "retrying" and info.error == "wobble"
    assert info.retry_at is not None
    ahead = (info.retry_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert 50 < ahead <= 120
    assert info.label == f"retrying at {info.retry_at:%H:%M:%S} UTC"
    assert events[-1]["data"]["retry_at"] == pytest.approx(info.retry_at.timestamp())

    api_node = run_detail(run).nodes[0]
    assert (api_node.status, api_node.retry_at) == ("retrying", info.retry_at)

    page = str(run.report())
    assert 'data-node="wobbly" data-status="retrying"' in page
    assert f"retrying at {info.retry_at:%H:%M:%S} UTC" in page

    model = RunModel(run.spec)
    for event in events:
        model.apply(event)
    assert model.nodes == {"wobbly": "retrying"}
    next_at = time.strftime("%H:%M:%S", time.localtime(info.retry_at.timestamp()))
    assert f"retrying at {next_at}" in RunView._table_html(model)

    view = live.new_view(["wobbly"])
    live.apply(view, events)
    assert view.statuses == {"wobbly": "retrying"}
    assert view.nodes["wobbly"].retry_at == pytest.approx(info.retry_at.timestamp())
    assert run.cancel() in ("cancelled", "running") and run.wait(30).status == "cancelled"


def test_a_run_cancelled_while_a_node_backs_off_shows_it_cancelled_everywhere(
    backing_off: tuple[rt.Run, list],
) -> None:
    run, _ = backing_off
    run.cancel()
    assert run.wait(30).status == "cancelled"
    assert run.nodes["wobbly"].status == "cancelled"
    events = list(run.events())
    model = RunModel(run.spec)
    for event in events:
        model.apply(event)
    view = live.new_view(["wobbly"])
    live.apply(view, events)
    assert model.nodes == view.statuses == {"wobbly": "cancelled"}
    assert 'data-node="wobbly" data-status="cancelled"' in str(run.report())


def test_a_run_s_counts_say_every_node_status_once() -> None:
    assert sorted(statuses.NODE_COUNTED) == sorted(statuses.NODE_STATUSES)
