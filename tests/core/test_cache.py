"""Node result caching: a cached node with the same code and input values takes an earlier
attempt's output instead of running (counted in a ledger of side effects), shown ``cached``
with a link to that attempt; a code change, another input value, an expired entry or
``plait cache clear`` make it run again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import runtime as rt
from runtime import config
from runtime.cli import app
from runtime.errors import GraphError, InputError
from runtime.store import tables
from tests.core import cache_flows as flows
from tests.core.replay_flows import executions


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    monkeypatch.setenv("PLAIT_REPLAY_LEDGER", str(path))
    return path


def _run(graph: rt.Graph, ledger: Path, **inputs: object) -> tuple[rt.Run, dict[str, int]]:
    for p in ledger.iterdir():
        p.unlink()
    run = graph.run(**inputs).wait(60)
    assert run.status == "succeeded", run.error
    return run, executions(ledger)


def test_a_second_run_takes_the_cached_outputs_and_links_to_their_attempts(
    client: rt.Client, ledger: Path
) -> None:
    first, ran = _run(flows.pipeline(), ledger, rows=5)
    assert ran == {"load": 1, "total": 1, "report": 1}
    assert {n: i.status for n, i in first.nodes.items()} == {
        "load": "succeeded",
        "total": "succeeded",
        "report": "succeeded",
    }

    second, ran = _run(flows.pipeline(), ledger, rows=5)
    assert ran == {"report": 1}  # the uncached node runs; the cached ones do not
    nodes = second.nodes
    assert nodes["load"].status == nodes["total"].status == "cached"
    assert nodes["report"].status == "succeeded"
    assert nodes["total"].cached_from == (first.id, 1)
    assert nodes["total"].label == "cached"
    assert second.output("total") == 10
    assert second.output("report") == "total 10"
    hit = next(e for e in second.events() if e["type"] == "node.succeeded" and e["node"] == "total")
    assert hit["data"]["cached"] is True
    assert hit["data"]["cached_from"] == {"run_id": first.id, "attempt": 1, "node": "total"}


def test_a_cache_hit_references_the_stored_output_without_copying_a_blob(
    client: rt.Client, ledger: Path
) -> None:
    first, _ = _run(flows.pipeline(), ledger, rows=20_000)  # a list past the inline limit
    second, _ = _run(flows.pipeline(), ledger, rows=20_000)
    nr = tables.node_run
    with client.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(nr.c.run_id, nr.c.output_blob, nr.c.cached_from).where(nr.c.node == "load")
        ).all()
        blobs = conn.execute(sa.select(sa.func.count()).select_from(tables.blob)).scalar_one()
    by_run = {r.run_id: r for r in rows}
    assert by_run[first.id].output_blob is not None
    assert by_run[second.id].output_blob == by_run[first.id].output_blob
    assert by_run[second.id].cached_from is not None
    assert blobs == 1
    assert second.output("load") == list(range(20_000))


def test_changed_code_misses_and_files_a_new_entry(client: rt.Client, ledger: Path) -> None:
    _run(flows.pipeline(), ledger, rows=5)
    fixed, ran = _run(flows.pipeline(fixed=True), ledger, rows=5)
    assert ran == {"total": 1, "report": 1}  # load's code is the same: still a hit
    assert fixed.nodes["load"].status == "cached"
    assert fixed.nodes["total"].status == "succeeded"
    again, ran = _run(flows.pipeline(fixed=True), ledger, rows=5)
    assert ran == {"report": 1}
    assert again.nodes["total"].cached_from == (fixed.id, 1)


def test_another_input_value_misses(client: rt.Client, ledger: Path) -> None:
    _run(flows.pipeline(), ledger, rows=5)
    other, ran = _run(flows.pipeline(), ledger, rows=6)
    assert ran == {"load": 1, "total": 1, "report": 1}
    assert other.output("total") == 15
    back, ran = _run(flows.pipeline(), ledger, rows=5)  # both entries are kept
    assert ran == {"report": 1}
    assert back.output("total") == 10


def test_a_timedelta_entry_expires(
    client: rt.Client, ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ttl = dt.timedelta(hours=6)
    _run(flows.pipeline(cache=ttl), ledger, rows=5)
    real = tables.utcnow
    monkeypatch.setattr(tables, "utcnow", lambda: real() + dt.timedelta(hours=5))
    _, ran = _run(flows.pipeline(cache=ttl), ledger, rows=5)
    assert ran == {"report": 1}  # five hours on: still fresh
    monkeypatch.setattr(tables, "utcnow", lambda: real() + dt.timedelta(hours=7))
    late, ran = _run(flows.pipeline(cache=ttl), ledger, rows=5)
    assert ran == {"load": 1, "total": 1, "report": 1}
    assert late.nodes["total"].status == "succeeded"


@pytest.fixture
def settings_of(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI in this process reads the test's database (its settings are read once)."""
    monkeypatch.setenv("PLAIT_DATABASE_URL", db_url)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def test_cache_clear_per_node_workflow_and_all(
    client: rt.Client, ledger: Path, settings_of: None
) -> None:
    _run(flows.pipeline(), ledger, rows=5)
    runner = CliRunner()
    env: dict[str, str] = {}
    cleared = runner.invoke(
        app, ["cache", "clear", "--workflow", "cached_pipeline", "--node", "total"], env=env
    )
    assert cleared.exit_code == 0, cleared.output
    assert "cleared 1 cache entry" in cleared.output
    _, ran = _run(flows.pipeline(), ledger, rows=5)
    assert ran == {"total": 1, "report": 1}

    cleared = runner.invoke(app, ["cache", "clear", "--workflow", "cached_pipeline"], env=env)
    assert "cleared 2 cache entries" in cleared.output
    _, ran = _run(flows.pipeline(), ledger, rows=5)
    assert ran == {"load": 1, "total": 1, "report": 1}

    cleared = runner.invoke(app, ["cache", "clear"], env=env)
    assert "cleared 2 cache entries" in cleared.output
    assert client.store.cache_clear() == 0
    with pytest.raises(InputError, match="needs its workflow"):
        client.store.cache_clear(node="total")

    bad = runner.invoke(app, ["cache", "clear", "--node", "total"], env=env)
    assert bad.exit_code != 0
    assert "needs its workflow" in bad.output


def test_bad_cache_policies_are_refused() -> None:
    g = rt.Graph("bad_cache")
    with pytest.raises(GraphError, match="cache must be True, False or a timedelta"):
        g.node(flows.load, cache=3600)
    with pytest.raises(GraphError, match="must be positive"):
        g.node(flows.load, cache=dt.timedelta(0))


def test_a_cached_node_that_fails_files_nothing(client: rt.Client, ledger: Path) -> None:
    g = rt.Graph("cached_failure")

    @g.node(cache=True)
    def boom(rows: int) -> int:
        raise ValueError("no")

    run = g.run(rows=1).wait(60)
    assert run.status == "failed"
    assert client.store.cache_clear() == 0


def test_every_view_shows_a_hit_cached(client: rt.Client, ledger: Path) -> None:
    from runtime import report
    from runtime.notebook.view import RunModel
    from studio import data
    from studio.logic import live

    first, _ = _run(flows.pipeline(), ledger, rows=5)
    second, _ = _run(flows.pipeline(), ledger, rows=5)
    events = list(second.events())

    model = RunModel(spec=second.spec)
    for event in events:
        model.apply(event)
    assert model.nodes["total"] == "cached"
    assert model.nodes["report"] == "succeeded"

    view = live.new_view([n["name"] for n in second.spec["nodes"]])
    live.apply(view, events)
    assert view.node("total").status == "cached"
    assert view.node("total").attempts[-1].status == "cached"  # the attempt ended

    detail = data.node_detail(client, second.id, "total", second.spec)
    assert detail.status == "cached"
    assert detail.cached_from == f"cached from run {first.id}, attempt 1"
    assert detail.cached_href == f"/runs/{first.id}"
    assert data.outputs(client, second.id)[0].name == "report"

    page = str(report.render(second))
    assert "cached" in page
    assert "total 10" in page  # the cached chain's final output is previewed


def test_the_api_says_cached_and_where_from(client: rt.Client, ledger: Path) -> None:
    from fastapi.testclient import TestClient

    from runtime.api import create_api

    first, _ = _run(flows.pipeline(), ledger, rows=5)
    second, _ = _run(flows.pipeline(), ledger, rows=5)
    with TestClient(create_api(lambda: client)) as http:
        detail = http.get(f"/api/v1/runs/{second.id}").json()
    nodes = {n["name"]: n for n in detail["nodes"]}
    assert nodes["total"]["status"] == "cached"
    assert nodes["total"]["cached_from"] == {"run_id": first.id, "attempt": 1}
    assert nodes["report"]["cached_from"] is None


def test_retention_takes_the_entries_of_the_runs_it_deletes(
    client: rt.Client, ledger: Path
) -> None:
    first, _ = _run(flows.pipeline(), ledger, rows=5)
    client.store.purge_runs([first.id], before=tables.utcnow())
    with client.store.engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(tables.node_cache)).scalar()
    assert left == 0
    _, ran = _run(flows.pipeline(), ledger, rows=5)
    assert ran == {"load": 1, "total": 1, "report": 1}


def test_a_library_node_takes_cache_and_a_parking_one_refuses_it(client: rt.Client) -> None:
    g = rt.Graph("cached_library_node")
    g.add("greeting", rt.nodes.template(template="Hello {{ inputs.name }}"), cache=True)
    first = g.run(name="Ada").wait(60)
    second = g.run(name="Ada").wait(60)
    assert first.nodes["greeting"].status == "succeeded"
    assert second.nodes["greeting"].status == "cached"
    assert second.nodes["greeting"].cached_from == (first.id, 1)
    assert second.output("greeting") == "Hello Ada"

    with pytest.raises(GraphError, match="'review': an approval node cannot be cached"):
        g.add("review", rt.nodes.approval(), cache=True)
    assert "review" not in g.nodes
