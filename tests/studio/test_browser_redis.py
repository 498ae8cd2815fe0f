"""The studio with PostgreSQL + Redis: runs execute on a ``plait worker`` process, events
reach the studio through Redis pub/sub, and a "notebook" (a client in this process) answers
the wait node. Pages still update live, and a closed tab stops listening."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from runtime import client as client_module
from runtime.redis_bus import run_channel
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.studio.test_browser import TIMEOUT, node, status_class
from tests.token_models import story_graph
from tests.workers import Cluster, cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def dist(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("studio-dist")
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, home) as c:
        c.start_worker(processes=1)
        yield c


@pytest.fixture(scope="module")
def studio(dist: Cluster) -> Iterator[Studio]:
    env = {k: v for k, v in dist.env.items() if k.startswith("PLAIT_")}
    s = start_studio(env, dist.home, "redis")
    yield s
    stop_studio(s)
    client_module._default = None


def subscribers(run_id: str) -> int:
    r = redis.Redis.from_url(REDIS_URL)
    try:
        return dict(r.pubsub_numsub(run_channel(run_id)))[run_channel(run_id).encode()]
    finally:
        r.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_a_worker_run_answered_from_a_notebook_updates_every_tab(
    studio: Studio, browser: Browser, artifacts: Path
) -> None:
    notebook = studio.connect()
    run = notebook.start(flows.approval, {"topic": "redis"})
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tabs = [context.new_page(), context.new_page()]
    try:
        for tab in tabs:
            tab.goto(f"{studio.url}/runs/{run.id}")
            expect(node(tab, "review")).to_have_class(status_class("waiting"), timeout=TIMEOUT)
        assert subscribers(run.id) == 1  # the studio process listens once for both tabs

        run.resume("review", amount=2, decision="reject")
        for tab in tabs:
            expect(tab.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
            expect(node(tab, "result")).to_have_class(status_class("succeeded"))
        tabs[0].screenshot(path=str(artifacts / "studio_redis_answered.png"), full_page=True)
        assert run.output("result") == {"topic": "redis", "amount": 2, "decision": "reject"}
    finally:
        context.close()


def test_closing_the_tab_stops_its_listener(studio: Studio, browser: Browser) -> None:
    run = studio.connect().start(flows.approval, {"topic": "tabs"})
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(f"{studio.url}/runs/{run.id}")
    expect(node(tab, "review")).to_have_class(status_class("waiting"), timeout=TIMEOUT)
    wait_until(lambda: subscribers(run.id) == 1)
    tab.close()
    wait_until(lambda: subscribers(run.id) == 0)
    context.close()


def test_a_run_started_from_the_form_executes_on_the_worker(
    studio: Studio, dist: Cluster, page: Page, tmp_path: Path
) -> None:
    gate = tmp_path / "open"
    studio.connect().publish(flows.gated)
    page.goto(studio.url + "/workflows/studio_gated")
    page.locator("#run-form input[name=gate_file]").fill(str(gate))
    page.locator("#start-run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"), timeout=TIMEOUT)
    expect(node(page, "gate")).to_have_class(status_class("running"), timeout=TIMEOUT)
    gate.touch()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    run = studio.connect().get_run(page.url.rsplit("/", 1)[1])
    assert run.record.trigger == "studio"
    pid = int(re.search(r"pid (\d+)", run.nodes["gate"].logs or "").group(1))  # type: ignore[union-attr]
    assert os.getpgid(pid) == dist.workers[0].pid  # a worker process ran it


def test_the_studio_says_workers_execute(studio: Studio) -> None:
    said = studio.log.read_text()
    assert "workers execute runs (Redis)" in said and "postgresql+psycopg://" in said


def test_tokens_streamed_on_a_worker_reach_the_node_panel(
    studio: Studio, page: Page, tmp_path: Path
) -> None:
    run = studio.connect().start(story_graph("redis_story", tmp_path), {"topic": "redis"})
    page.goto(f"{studio.url}/runs/{run.id}")
    expect(node(page, "answer")).to_have_class(status_class("running"), timeout=TIMEOUT)
    node(page, "answer").click()
    (tmp_path / "go").touch()
    expect(page.locator("#node-stream")).to_have_text("Once upon", timeout=TIMEOUT)
    assert run.nodes["answer"].status == "running"
    (tmp_path / "finish").touch()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(page.locator(".plait-node-output")).to_contain_text(
        "Once upon a time the end.", timeout=TIMEOUT
    )
    expect(page.locator("#node-stream")).to_have_count(0)
