"""A newcomer's ``plait studio``: no bun, node or npm on PATH and a fresh home (no build
directory, no Reflex state), so the first start builds the frontend with the bun the locked
environment ships, and a later start on the same port serves that build without building.

The npm packages the build installs come from this machine's bun cache when it has one: the
test is about the toolchain, not about the download.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from runtime import client as client_module
from tests.faults.servers import free_port
from tests.studio import flows
from tests.studio.conftest import start_studio, stop_studio

JS_TOOLS = frozenset({"bun", "bunx", "node", "nodejs", "npm", "npx", "corepack"})
TIMEOUT = 30_000


def path_without_js(bin_dir: Path) -> str:
    """A PATH with every command of this one except the JavaScript toolchain's."""
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name not in JS_TOOLS and not os.path.lexists(target):
                target.symlink_to(entry.path)
    return str(bin_dir)


def test_first_start_without_bun_or_node_builds_then_a_later_start_serves_at_once(
    tmp_path: Path, page: Page
) -> None:
    home, store = tmp_path / "home", tmp_path / "plait"
    home.mkdir()
    store.mkdir()
    env = {"HOME": str(home), "PATH": path_without_js(tmp_path / "bin")}
    bun_cache = Path.home() / ".bun" / "install" / "cache"
    if bun_cache.is_dir():
        env["BUN_INSTALL_CACHE_DIR"] = str(bun_cache)
    unset = ("REFLEX_WEB_WORKDIR", "XDG_CACHE_HOME", "REFLEX_DIR", "REFLEX_BUN_PATH")
    unset += ("REFLEX_USE_SYSTEM_BUN", "REFLEX_USE_NPM")
    port = free_port()

    first = start_studio(env, store, None, port=port, unset=unset)
    try:
        log = first.log.read_text()
        assert f"building the frontend in {home / '.cache' / 'plait' / 'studio' / str(port)}" in log
        first.connect().publish(flows.gated)
        page.goto(first.url + "/")
        # the row arrives over the websocket: the built frontend talks to this port
        expect(page.locator('.plait-workflow-row[data-workflow="studio_gated"]')).to_be_visible(
            timeout=TIMEOUT
        )
    finally:
        stop_studio(first)
        client_module._default = None

    later = start_studio(env, store, None, port=port, unset=unset)
    try:
        log = later.log.read_text()
        assert "building the frontend" not in log, log
        assert f"frontend built for port {port}" in log
        with urllib.request.urlopen(later.url + "/runs", timeout=30) as response:
            assert response.status == 200
            assert b"<html" in response.read()
        page.goto(later.url + "/")
        expect(page.locator('.plait-workflow-row[data-workflow="studio_gated"]')).to_be_visible(
            timeout=TIMEOUT
        )
    finally:
        stop_studio(later)
        client_module._default = None
