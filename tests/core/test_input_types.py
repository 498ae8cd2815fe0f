"""Run inputs are checked against the node functions' annotations before a run starts, at
every entry point, and nothing is stored when they do not match."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import runtime as rt
from runtime.inputs import InvalidInputs
from runtime.store import tables


def typed_graph() -> rt.Graph:
    g = rt.Graph("typed")

    @g.node
    def repeat(word: str, times: int, sizes: list[int] | None = None) -> str:
        assert isinstance(times, int)  # the node never sees the wrong type
        return word * times + str(sum(sizes or []))

    @g.node
    def scaled(times: int, ratio: float = 1.0) -> float:
        return times * ratio

    return g


def _stored(client: rt.Client) -> tuple[int, int]:
    with client.store.engine.connect() as conn:  # type: ignore[attr-defined]
        runs = conn.execute(sa.select(sa.func.count()).select_from(tables.Run)).scalar_one()
        versions = conn.execute(
            sa.select(sa.func.count()).select_from(tables.WorkflowVersion)
        ).scalar_one()
    return runs, versions


def test_a_wrong_type_is_refused_naming_input_and_type(client: rt.Client) -> None:
    with pytest.raises(rt.InputError) as raised:
        typed_graph().run(word="ab", times="three")
    message = str(raised.value)
    assert "graph 'typed': input 'times' expects int" in message
    assert "'three' (str)" in message
    assert raised.value.problems.keys() == {"times"}  # type: ignore[attr-defined]
    assert rt.runs() == []
    assert _stored(client) == (0, 0)


def test_every_wrong_input_is_named_and_nested_types_are_checked(client: rt.Client) -> None:
    with pytest.raises(InvalidInputs) as raised:
        typed_graph().run(word=3, times=2, sizes=[1, "x"])
    assert set(raised.value.problems) == {"word", "sizes"}
    assert "input 'sizes' expects list[int] | None" in raised.value.problems["sizes"]
    assert "1: Input should be a valid integer" in raised.value.problems["sizes"]


def test_lax_values_are_coerced_before_they_are_stored(client: rt.Client) -> None:
    run = typed_graph().run(word="ab", times="3", ratio=2).wait(30)
    assert run.status == "succeeded", run.error
    assert run.inputs["times"] == 3
    assert run.outputs == {"repeat": "ababab0", "scaled": 6.0}


def test_hamilton_inputs_are_checked_against_hamiltons_types(client: rt.Client) -> None:
    from tests.hamilton import parameterized

    g = rt.Graph.from_hamilton("hamilton_typed", parameterized)
    with pytest.raises(rt.InputError, match="input 'n' expects int"):
        g.run(n="six")
    assert rt.runs() == []
    run = g.run(n="4").wait(30)
    assert run.status == "succeeded", run.error
    assert run.output("doubled").tolist() == [0.0, 2.0, 4.0, 6.0]


def test_a_class_pydantic_has_no_schema_for_is_an_isinstance_check(client: rt.Client) -> None:
    g = rt.Graph("frames")

    @g.node
    def rows(frame: pd.DataFrame) -> int:
        return len(frame)

    with pytest.raises(rt.InputError, match=r"input 'frame' expects pandas.DataFrame"):
        g.run(frame=[1, 2])
    assert g.run(frame=pd.DataFrame({"a": [1, 2]})).wait(30).outputs == {"rows": 2}


def test_a_stored_version_checks_types_when_started_by_id(client: rt.Client) -> None:
    """``start_version`` is what the REST API, the studio form and triggers call."""
    version = client.publish(typed_graph())
    with pytest.raises(InvalidInputs, match="input 'times' expects int"):
        client.start_version(version.id, {"word": "a", "times": "three"})
    assert _stored(client) == (0, 1)
    run = client.start_version(version.id, {"word": "a", "times": "2"}).wait(30)
    assert run.outputs["repeat"] == "aa0"


def test_command_line_text_is_read_as_the_declared_type() -> None:
    g = typed_graph()
    assert g.check_inputs({"word": "007", "times": "3", "sizes": "[1, 2]"}, from_text=True) == {
        "word": "007",
        "times": 3,
        "sizes": [1, 2],
    }
    with pytest.raises(rt.InputError, match="input 'times' expects int"):
        g.check_inputs({"word": "a", "times": "three"}, from_text=True)


def test_a_schedule_with_ill_typed_inputs_is_refused_and_nothing_is_stored(
    client: rt.Client,
) -> None:
    """A schedule's inputs are checked when it is made, not at its first fire."""
    from runtime import schedules

    client.publish(typed_graph())
    with pytest.raises(InvalidInputs, match="input 'times' expects int"):
        schedules.create(client, "typed", "* * * * *", inputs={"word": "a", "times": "three"})
    assert client.store.schedules() == []
    declared = rt.Graph("typed_on_a_schedule")

    @declared.node
    def count(times: int) -> int:
        return times

    declared.schedule("* * * * *", inputs={"times": "three"})
    with pytest.raises(InvalidInputs, match="input 'times' expects int"):
        client.publish(declared)
    assert client.store.schedules() == []


def test_a_webhook_with_an_ill_typed_field_is_a_422_and_starts_nothing(client: rt.Client) -> None:
    import json

    from fastapi.testclient import TestClient

    from runtime.api import create_api
    from runtime.api_webhooks import webhooks_of
    from tests import hook_flows
    from tests.core.test_webhooks import signed

    client.publish(hook_flows.order)
    hook = webhooks_of(client).create("hook_order", mapping={"sku": "item", "quantity": "qty"})
    with TestClient(create_api(lambda: client)) as api:
        body = json.dumps({"item": "A-1", "qty": "three"}).encode()
        bad = api.post(hook.path, content=body, headers=signed(hook.secret, body, "t1"))
        assert bad.status_code == 422, bad.text
        assert "input 'quantity' expects int" in bad.json()["detail"]
        assert client.runs() == []
        body = json.dumps({"item": "A-1", "qty": "3"}).encode()
        good = api.post(hook.path, content=body, headers=signed(hook.secret, body, "t2"))
        assert good.status_code == 202, good.text
    run = client.get_run(good.json()["run_id"]).wait(30)
    assert run.outputs["total"] == {"sku": "A-1", "quantity": 3, "note": ""}
