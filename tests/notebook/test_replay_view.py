"""Replay from the notebook view's chosen node: the plan drawn on the graph first, then the
replay started; and ``run.replay_plan(...)`` as a rich display."""

from __future__ import annotations

import runtime as rt
from runtime.notebook.view import RunView, wait_until
from tests.core import replay_flows


def test_the_view_plans_then_starts_a_replay_from_the_chosen_node(
    sqlite_client: rt.Client,
) -> None:
    run = replay_flows.pipeline(fixed=True).run(rows=4, title="nb").wait(60)
    assert run.status == "succeeded", run.error
    view = RunView(run)
    wait_until(lambda: view.model.finished, timeout=10)
    assert view.replay_plan_button.disabled and view.replay_button.disabled
    view.details_pick.value = "features"
    assert not view.replay_plan_button.disabled and view.replay_button.disabled

    view.replay_plan_button.click()
    shown = view.replay_view.value
    assert "3 reused, 2 re-run" in shown
    assert 'data-node="features" data-status="pending"' in shown
    assert 'data-node="fetch" data-status="succeeded"' in shown
    assert "downstream of features" in shown  # the reason under the node's name
    assert not view.replay_button.disabled

    view.replay_button.click()
    replay = view.replayed
    assert replay is not None and replay.replay_of == run.id
    assert replay.wait(60).status == "succeeded", replay.error
    assert f"replay <code>{replay.id}</code> started" in view.replay_view.value
    assert replay.outputs == run.outputs
    assert view.replay_button.disabled  # one replay per plan


def test_a_replay_plan_displays_as_the_graph_with_the_plan_on_it(
    sqlite_client: rt.Client,
) -> None:
    run = replay_flows.pipeline(fixed=True).run(rows=3, title="x").wait(60)
    plan = run.replay_plan(inputs={"title": "y"})
    page = plan._repr_html_()
    assert "<svg" in page and "4 reused, 1 re-run" in page
    assert 'data-node="label" data-status="pending"' in page
    assert "changed input title" in page
    assert "re-run  label  (changed input title)" in str(plan)
