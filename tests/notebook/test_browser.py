"""End to end in a real JupyterLab and Chromium: run 02_human_in_the_loop, answer its wait
form (a rejected value first), and see the run succeed with the submitted value."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium
from tests.faults.servers import free_port

NOTEBOOKS = Path(__file__).parent.parent.parent / "notebooks"


def _get_json(url: str) -> object:
    return json.loads(urllib.request.urlopen(url, timeout=5).read())


def _write_setting(home: Path, plugin: str, data: dict) -> None:
    path = home / "settings" / f"{plugin}.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server (base URL) serving a directory of notebooks (root)."""
    home = tmp_path_factory.mktemp("jlab")
    root = tmp_path_factory.mktemp("nbroot")
    for app in ("lab", "nb7"):  # each front end gets its own copy (autosave must not mix)
        shutil.copy(NOTEBOOKS / "02_human_in_the_loop.ipynb", root / f"02_{app}.ipynb")
    _write_latency_notebook(root / "latency.ipynb")
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "PLAIT_HOME": str(root / ".plait"),
    }
    for var in ("PLAIT_DATABASE_URL", "PLAIT_REDIS_URL", "PLAIT_AUTO_ANSWER"):
        env.pop(var, None)
    _write_setting(
        home,
        "@jupyterlab/apputils-extension/notification",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    _write_setting(home, "@jupyterlab/notebook-extension/tracker", {"windowingMode": "none"})
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(base + "/api/status", timeout=1)
            break
        except Exception:
            assert proc.poll() is None, (home / "server.log").read_text()
            assert time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.2)
    yield base, root
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    yield context.new_page()
    context.close()


def _wait_kernel_ready(page: Page, base: str, path: str) -> None:
    """The toolbar says idle before a kernel exists; Run All then opens a kernel dialog and
    runs nothing. Require the server to report the kernel idle and connected first."""
    deadline = time.monotonic() + 90
    while True:
        sessions = [s for s in _get_json(base + "/api/sessions") if s["path"] == path]
        kernel = sessions[0]["kernel"] if sessions else None
        if kernel and kernel["execution_state"] == "idle" and kernel["connections"] >= 1:
            break
        assert time.monotonic() < deadline, sessions
        time.sleep(0.1)
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=60_000)


URLS = {"lab": "/lab/tree/{name}?reset", "nb7": "/notebooks/{name}"}


@pytest.mark.parametrize("app", ["lab", "nb7"])
def test_wait_form_in_jupyter(lab: tuple[str, Path], page: Page, artifacts: Path, app: str) -> None:
    """JupyterLab and Notebook 7 alike."""
    base, _root = lab
    name = f"02_{app}.ipynb"
    page.goto(base + URLS[app].format(name=name))
    _wait_kernel_ready(page, base, name)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()

    view = page.locator(".plait-run").first
    view.locator('g.node[data-node="review"][data-status="waiting"]').wait_for(timeout=60_000)
    form = view.locator(".plait-wait-form")
    form.get_by_label("reviewer").fill("Ada")
    score = form.get_by_label("score (optional)")
    score.fill("")
    score.press_sequentially("9")  # out of range: 1..5
    score.press("Tab")
    form.get_by_role("button", name="Submit").click()
    expect(form.locator(".plait-field-error").first).to_contain_text("less than or equal to 5")
    expect(view.locator('g.node[data-node="review"]')).to_have_attribute("data-status", "waiting")

    score.fill("")
    score.press_sequentially("5")
    score.press("Tab")
    form.get_by_label("approved").check()
    form.get_by_role("button", name="Submit").click()

    try:
        view.locator('[data-state="finished"]').wait_for(timeout=60_000)
    finally:
        view.screenshot(path=str(artifacts / f"notebook_wait_form_{app}.png"))
    expect(view.locator('g.node[data-status="succeeded"]')).to_have_count(3)
    expect(view.locator(".widget-output")).to_contain_text(
        "A short note about owls. published by Ada (score 5)"
    )


LATENCY_CELLS = [
    "import time, runtime as rt\n"
    "g = rt.Graph('latency50')\n"
    "g.add('n0', lambda: time.sleep(0.2) or 0)\n"
    "for i in range(1, 50):\n"
    "    g.add(f'n{i}', lambda v: time.sleep(0.2) or v + 1, inputs={'v': f'n{i - 1}'})\n"
    "run = g.run()\n"
    "run",
    "print('RUN_ID', run.id)",
]


def _write_latency_notebook(path: Path) -> None:
    import nbformat

    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    book.cells = [nbformat.v4.new_code_cell(src) for src in LATENCY_CELLS]
    nbformat.write(book, path)


RECORD_SUCCEEDED = """
() => {
  window.plaitSeen = {};
  const mark = () => document.querySelectorAll('g.node[data-status="succeeded"]').forEach(n => {
    const name = n.getAttribute('data-node');
    if (!(name in window.plaitSeen)) window.plaitSeen[name] = Date.now() / 1000;
  });
  new MutationObserver(mark).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true, characterData: true});
  mark();
}
"""


def test_live_update_latency_in_the_browser(lab: tuple[str, Path], page: Page) -> None:
    """Prints node finished -> colour changed in the page (p50 over 50 nodes); asserts only
    that every node's final colour arrives (the trailing flush)."""
    import runtime as rt

    base, root = lab
    name = "latency.ipynb"
    page.goto(f"{base}/lab/tree/{name}?reset")
    _wait_kernel_ready(page, base, name)
    page.evaluate(RECORD_SUCCEEDED)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    view = page.locator(".plait-run").first
    view.locator('[data-state="finished"]').wait_for(timeout=120_000)
    expect(view.locator('g.node[data-status="succeeded"]')).to_have_count(50)
    seen = page.evaluate("window.plaitSeen")
    out = page.locator(".jp-OutputArea-output").filter(has_text="RUN_ID").inner_text()
    run_id = out.split()[-1]
    client = rt.connect(f"sqlite:///{root}/.plait/plait.db", home=root / ".plait")
    finished = {
        e["node"]: e["at"] for e in client.get_run(run_id).events() if e["type"] == "node.succeeded"
    }
    delays = sorted((seen[n] - finished[n]) * 1000 for n in finished if n in seen)
    client.close()
    assert len(delays) == 50
    print(
        f"\nnode finished -> colour in the browser: p50 {delays[25]:.0f} ms, "
        f"max {delays[-1]:.0f} ms over {len(delays)} nodes"
    )
