"""``g.run(..., outputs=[...])``: only what the requested outputs need runs; the rest is
recorded as not needed, the same in every view."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtime as rt
from runtime.errors import InputError
from runtime.notebook.view import RunModel, RunView
from studio.logic import live
from tests.core import retry_flows
from tests.core.retry_flows import executions

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    return path


def test_only_the_nodes_the_outputs_need_run(client: rt.Client, ledger: Path) -> None:
    # `fix` is read only by `fragile`, which `side` does not need: it need not be given
    run = retry_flows.flaky.run(ledger=str(ledger), outputs=["side"]).wait(30)
    assert run.status == "succeeded", run.error
    assert executions(ledger) == {"prepare": 1, "side": 1}
    assert run.outputs == {"side": 40}
    statuses = {n: i.status for n, i in run.nodes.items()}
    assert statuses == {
        "prepare": "succeeded",
        "fragile": "not_needed",
        "side": "succeeded",
        "publish": "not_needed",
    }
    assert run.nodes["fragile"].label == "not needed"
    assert run.record.targets == ["side"]

    # every view says the same: the report, the notebook view, the studio's live view
    page = str(run.report())
    assert 'data-node="fragile" data-status="not_needed"' in page
    assert ">not needed</span>" in page
    assert '<li><a href="#node-side">side</a></li>' in page  # the Outputs section
    events = list(run.events())
    model = RunModel(run.spec)
    for event in events:
        model.apply(event)
    assert model.nodes == statuses and model.progress() == (4, 4)
    assert "data-status='not_needed'" in RunView._table_html(model)
    view = live.new_view([n["name"] for n in run.spec["nodes"]])
    live.apply(view, events)
    assert view.statuses == statuses


def test_final_vars_is_the_same_as_outputs(client: rt.Client, ledger: Path, tmp_path: Path) -> None:
    fix = tmp_path / "fix"
    fix.touch()
    run = retry_flows.flaky.run(ledger=str(ledger), fix=str(fix), final_vars=["fragile"])
    assert run.wait(30).status == "succeeded"
    assert run.outputs == {"fragile": 21}
    assert executions(ledger) == {"prepare": 1, "fragile": 1}


def test_a_retry_keeps_not_needed_nodes_not_needed(
    client: rt.Client, ledger: Path, tmp_path: Path
) -> None:
    fix = tmp_path / "fix"
    run = retry_flows.flaky.run(ledger=str(ledger), fix=str(fix), outputs=["fragile"]).wait(30)
    assert run.status == "failed"
    fix.touch()
    assert run.retry().wait(30).status == "succeeded"
    assert executions(ledger) == {"prepare": 1, "fragile": 2}
    assert run.nodes["side"].status == "not_needed" and run.outputs == {"fragile": 21}
    rerun = run.rerun().wait(30)
    assert rerun.record.targets == ["fragile"] and rerun.outputs == {"fragile": 21}


def test_a_bad_output_name_is_refused_and_nothing_is_stored(
    client: rt.Client, ledger: Path
) -> None:
    g = retry_flows.flaky
    with pytest.raises(InputError, match=r"unknown output\(s\): publsh \(nodes are: prepare"):
        g.run(ledger=str(ledger), fix="x", outputs=["publsh"])
    with pytest.raises(InputError, match="non-empty list of node names, got 'side'"):
        g.run(ledger=str(ledger), outputs="side")
    with pytest.raises(InputError, match="non-empty list"):
        g.run(ledger=str(ledger), outputs=[])
    with pytest.raises(InputError, match="not both"):
        g.run(ledger=str(ledger), outputs=["side"], final_vars=["side"])
    with pytest.raises(InputError, match="missing required input"):
        g.run(ledger=str(ledger), outputs=["publish"])  # publish needs fragile, which needs fix
    assert client.store.list_runs() == []
    assert list(ledger.iterdir()) == []


def test_plait_run_with_outputs(db_url: str, ledger: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "runtime.cli", "run", "tests.core.retry_flows:flaky"),
            *("-i", f"ledger={ledger}", "-o", "side"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fragile not needed" in done.stdout and "side = 40" in done.stdout
    assert "publish =" not in done.stdout
    assert executions(ledger) == {"prepare": 1, "side": 1}
