"""The testing kit users test their workflows with (``runtime.testing``): scripted answers,
fakes, a test clock, the result's assertions and the ``plait`` pytest fixture."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

import runtime as rt
from runtime import clock as runtime_clock
from runtime.scheduler import Scheduler
from runtime.testing import NO_ANSWER, Clock, Kit, UnexpectedWait
from tests.conftest import _forget_pickle_keys, _migrate, _truncate


def review_graph() -> rt.Graph:
    g = rt.Graph("review")

    @g.node
    def draft(topic: str) -> str:
        return f"A short note about {topic}."

    g.wait("approve", {"ok": bool, "comment": (str, "")}, after=["draft"])

    @g.node
    def publish(draft: str, approve: dict) -> str:
        return draft if approve["ok"] else "rejected: " + approve["comment"]

    return g


def test_rt_testing_is_a_lazy_export() -> None:
    assert "testing" in dir(rt)
    assert rt.testing.run is rt.testing.harness.run
    assert rt.testing.Clock is Clock


def test_the_plait_fixture_comes_from_the_entry_point(
    plait: Kit, pytestconfig: pytest.Config
) -> None:
    # loaded by the ``pytest11`` entry point, not by a conftest of this project
    assert pytestconfig.pluginmanager.has_plugin("plait")
    assert isinstance(plait, Kit)
    assert plait.client.settings.redis_url is None  # embedded, whatever the environment says


def test_answers_answer_waits_by_name(plait: Kit) -> None:
    result = plait.run(review_graph(), {"topic": "owls"}, answers={"approve": {"ok": True}})
    result.assert_succeeded()
    assert result.output("publish") == "A short note about owls."
    assert result.output("approve") == {"ok": True, "comment": ""}
    assert result.ran("draft") and result.attempts("draft") == 1


def test_an_unexpected_wait_fails_with_its_name_and_schema(plait: Kit) -> None:
    with pytest.raises(UnexpectedWait) as caught:
        plait.run(review_graph(), {"topic": "owls"})
    assert isinstance(caught.value, AssertionError)  # pytest reports it as a failed test
    message = str(caught.value)
    assert "waiting for 'approve'" in message
    assert "answers given: none" in message
    assert '"ok": {' in message and '"type": "boolean"' in message
    assert caught.value.schema["required"] == ["ok"]


def test_answers_for_no_wait_are_refused(plait: Kit) -> None:
    with pytest.raises(rt.PlaitError, match=r"'aprove'.*wait nodes: approve"):
        plait.run(review_graph(), {"topic": "owls"}, answers={"aprove": {"ok": True}})


def test_an_invalid_answer_is_refused_as_a_resume_would_be(plait: Kit) -> None:
    with pytest.raises(rt.PayloadError):
        plait.run(review_graph(), {"topic": "owls"}, answers={"approve": {"ok": "yes"}})


def test_fakes_replace_nodes_with_values_and_functions(plait: Kit) -> None:
    g = rt.Graph("weather")
    calls: list[str] = []

    @g.node
    def fetch(city: str) -> dict:
        calls.append(city)
        raise ConnectionError("no network in tests")

    @g.node
    def unit(city: str) -> str:
        return "C"

    @g.node
    def report(fetch: dict, unit: str, city: str) -> str:
        return f"{city}: {fetch['temp']}{unit}"

    result = plait.run(g, {"city": "Oslo"}, fakes={"fetch": {"temp": 3}})
    result.assert_succeeded()
    assert result.output("report") == "Oslo: 3C"
    assert calls == []  # the real node never ran

    # a function gets the inputs it names
    result = plait.run(
        g, {"city": "Rome"}, fakes={"fetch": lambda city: {"temp": len(city)}, "unit": "F"}
    )
    assert result.output("report") == "Rome: 4F"

    async def slow_fetch(**inputs: str) -> dict:
        return {"temp": inputs["city"].upper()}

    assert plait.run(g, {"city": "x"}, fakes={"fetch": slow_fetch}).output("report") == "x: XC"
    # the graph itself is unchanged: without fakes the real node runs (and fails)
    failed = plait.run(g, {"city": "Oslo"})
    assert failed.status == "failed" and calls == ["Oslo"]


def test_fakes_name_nodes_that_exist_and_are_no_waits(plait: Kit) -> None:
    g = review_graph()
    with pytest.raises(rt.GraphError, match=r"'drfat'.*nodes: draft, approve, publish"):
        plait.run(g, {"topic": "owls"}, fakes={"drfat": "x"})
    with pytest.raises(rt.GraphError, match="answer it with answers="):
        plait.run(g, {"topic": "owls"}, fakes={"approve": {"ok": True}})


def test_a_fake_chat_model_takes_the_place_of_the_chains_model(plait: Kit) -> None:
    g = rt.Graph("summary")
    prompt = ChatPromptTemplate.from_messages([("human", "Summarise {text}")])
    real = FakeListChatModel(responses=["the real model answered"])
    g.add("summarise", prompt | real | StrOutputParser(), inputs={"text": "text"})

    @g.node
    def shout(summarise: str) -> str:
        return summarise.upper()

    fake = FakeListChatModel(responses=["owls hunt at night"])
    result = plait.run(g, {"text": "a long text"}, fakes={"summarise": fake})
    result.assert_succeeded()
    # the prompt and the parser stayed: the output is the parsed text, not a message
    assert result.output("summarise") == "owls hunt at night"
    assert result.output("shout") == "OWLS HUNT AT NIGHT"

    # a runnable standing in for a function node gets the node's one input
    g2 = rt.Graph("shouting")

    @g2.node
    def loud(word: str) -> str:
        raise AssertionError("not in tests")

    double = RunnableLambda(lambda word: word * 2)
    assert plait.run(g2, {"word": "ab"}, fakes={"loud": double}).output("loud") == "abab"


def test_a_durable_sleep_passes_on_the_clock(plait: Kit) -> None:
    g = rt.Graph("later")
    g.sleep("cool_off", seconds=dt.timedelta(hours=2))

    @g.node
    def follow_up(cool_off: dt.datetime) -> str:
        return f"woke at {cool_off:%H:%M}"

    start = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)
    clock = Clock(start)
    began = time.monotonic()
    result = plait.run(g, {}, clock=clock)
    result.assert_succeeded()
    assert result.output("follow_up") == "woke at 11:00"
    assert clock.elapsed >= dt.timedelta(hours=2)
    assert time.monotonic() - began < 60  # nowhere near two hours
    # stored times are the clock's
    assert result.nodes["follow_up"].started_at is not None
    assert result.nodes["follow_up"].started_at >= start + dt.timedelta(hours=2)


def test_retries_backoff_passes_on_the_clock(plait: Kit) -> None:
    g = rt.Graph("flaky")
    tries: list[int] = []

    @g.node(retries=2, backoff=120)
    def fetch() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError(f"try {len(tries)}")
        return "ok"

    clock = Clock()
    result = plait.run(g, clock=clock)
    result.assert_succeeded()
    assert result.attempts("fetch") == 3
    # jitter is 50-100% of 120s, then of 240s: minutes a real clock would have waited
    assert clock.elapsed >= dt.timedelta(seconds=180)


def test_a_map_elements_backoff_passes_on_the_clock(plait: Kit) -> None:
    g = rt.Graph("mapped")
    seen: dict[int, int] = {}

    @g.node
    def numbers(n: int) -> list[int]:
        return list(range(n))

    def square(numbers: int) -> int:
        seen[numbers] = seen.get(numbers, 0) + 1
        if numbers == 1 and seen[numbers] == 1:
            raise ValueError("once")
        return numbers**2

    g.map("squares", square, over="numbers", retries=1, backoff=240)
    clock = Clock()
    result = plait.run(g, {"n": 3}, clock=clock)
    result.assert_succeeded()
    assert result.output("squares") == [0, 1, 4]
    assert seen == {0: 1, 1: 2, 2: 1}
    assert clock.elapsed >= dt.timedelta(minutes=2)


def test_a_manual_clock_stops_the_run_until_advanced(plait: Kit) -> None:
    g = rt.Graph("later")
    g.sleep("cool_off", seconds=dt.timedelta(hours=2))

    @g.node
    def follow_up(cool_off: dt.datetime) -> str:
        return "done"

    # started in the past: only this clock may wake the run, not the system's time
    clock = Clock(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), auto=False)
    result = plait.run(g, {}, clock=clock)
    assert result.status == "sleeping"
    assert not result.ran("follow_up")
    clock.advance(hours=1)
    assert result.status == "sleeping"
    clock.advance(dt.timedelta(minutes=60))
    result.assert_succeeded()
    assert result.output("follow_up") == "done"


def test_a_wait_left_unanswered_times_out_on_the_clock(plait: Kit) -> None:
    g = rt.Graph("sign")
    g.wait("approve", {"ok": bool}, timeout=dt.timedelta(days=1), default={"ok": False})
    g.wait("sign_off", {"ok": bool}, timeout=3600)

    @g.node
    def outcome(approve: dict) -> str:
        return "approved" if approve["ok"] else "not approved"

    result = plait.run(g, answers={"approve": NO_ANSWER, "sign_off": {"ok": True}})
    result.assert_succeeded()
    assert result.output("outcome") == "not approved"
    assert result.clock.elapsed >= dt.timedelta(days=1)

    # no default: the timeout fails the wait, and the assertion says so
    failed = plait.run(g, answers={"approve": {"ok": True}, "sign_off": NO_ANSWER})
    with pytest.raises(AssertionError, match=r"(?s)is failed.*'sign_off'.*TimeoutError"):
        failed.assert_succeeded()


def test_assertions_on_a_failed_run_say_what_failed(plait: Kit) -> None:
    g = rt.Graph("broken")

    @g.node
    def parse(text: str) -> int:
        return int(text)

    @g.node
    def double(parse: int) -> int:
        return 2 * parse

    result = plait.run(g, {"text": "three"})
    with pytest.raises(AssertionError) as caught:
        result.assert_succeeded()
    message = str(caught.value)
    assert "is failed, not succeeded" in message
    assert "node 'parse'" in message and "ValueError" in message
    assert "return int(text)" in message  # the traceback, from the user's code
    assert result.ran("parse") and not result.ran("double")
    assert result.skipped("double")
    with pytest.raises(AssertionError, match=r"node 'parse' has no output: it is failed"):
        result.output("parse")
    with pytest.raises(KeyError, match=r"no node 'nope' \(nodes: parse, double\)"):
        result.ran("nope")
    # a succeeded run passes
    plait.run(g, {"text": "3"}).assert_succeeded()


def test_skipped_reads_untaken_branches(plait: Kit) -> None:
    g = rt.Graph("route")

    @g.branch
    def route(amount: float) -> Literal["big", "small"]:
        return "big" if amount > 100 else "small"

    @g.node
    def big(route: str) -> str:
        return "big"

    @g.node
    def small(route: str) -> str:
        return "small"

    result = plait.run(g, {"amount": 500})
    result.assert_succeeded()
    assert result.ran("big") and result.skipped("small") and not result.ran("small")
    # a fake may decide the branch
    faked = plait.run(g, {"amount": 500}, fakes={"route": "small"})
    assert faked.skipped("big") and faked.output("small") == "small"


def test_schedules_fire_on_the_clock(plait: Kit) -> None:
    g = rt.Graph("hourly")

    @g.schedule("0 * * * *")
    def tick() -> str:
        return "tock"

    clock = Clock(dt.datetime(2030, 1, 1, 9, 30, tzinfo=dt.UTC))
    with runtime_clock.installed(clock):
        plait.client.publish(g)
        scheduler = Scheduler(plait.client, clock=clock)
        assert scheduler.tick() == []  # nothing due at 09:30
        clock.advance(hours=1)
        fired = scheduler.tick()
    assert [f.fire_at for f in fired] == [dt.datetime(2030, 1, 1, 10, 0, tzinfo=dt.UTC)]
    assert fired[0].outcome == "started"


def test_the_clock_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="aware"):
        Clock(dt.datetime(2030, 1, 1))
    clock = Clock()
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-5)
    with pytest.raises(TypeError, match="not both"):
        clock.advance(5, hours=1)
    assert clock.advance(90) == clock.start + dt.timedelta(seconds=90)


def test_a_kit_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    try:
        with Kit(tmp_path, database_url=pg_url) as kit:
            result = kit.run(review_graph(), {"topic": "owls"}, answers={"approve": {"ok": True}})
            result.assert_succeeded()
            assert result.output("publish") == "A short note about owls."
            assert kit.client.store.display_url.startswith("postgresql")
    finally:
        _forget_pickle_keys(pg_url)


def test_rt_testing_run_works_without_the_fixture() -> None:
    result = rt.testing.run(review_graph(), {"topic": "owls"}, answers={"approve": {"ok": False}})
    assert result.output("publish") == "rejected: "
    # the process's clock is the system's again once the run is over
    assert runtime_clock.current() is runtime_clock.SYSTEM
