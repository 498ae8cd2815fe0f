"""When ``plait studio`` builds its frontend again: the stamp of what a build was made from."""

from __future__ import annotations

from pathlib import Path

from runtime.studio_server import STAMP, bundled_bun, fingerprint, is_current


def app_root(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "studio" / "pages").mkdir(parents=True)
    (root / "runtime").mkdir()
    (root / "reflex.lock").mkdir()
    (root / "rxconfig.py").write_text("config = None\n")
    (root / "studio" / "pages" / "home.py").write_text("TITLE = 'Workflows'\n")
    (root / "runtime" / "statuses.py").write_text("COLOURS = {}\n")
    (root / "reflex.lock" / "bun.lock").write_text("{}\n")
    return root


def test_the_stamp_changes_with_a_source_the_port_or_the_api_url(tmp_path: Path) -> None:
    root = app_root(tmp_path)
    first = fingerprint(root, 3000, {})
    assert fingerprint(root, 3000, {}) == first
    assert fingerprint(root, 3001, {}) != first
    assert fingerprint(root, 3000, {"REFLEX_API_URL": "https://studio.example"}) != first
    # the settings that are not compiled into the frontend do not count
    assert fingerprint(root, 3000, {"PLAIT_AUTH": "on"}) == first

    (root / "studio" / "pages" / "home.py").write_text("TITLE = 'Flows'\n")
    edited = fingerprint(root, 3000, {})
    assert edited != first
    (root / "runtime" / "statuses.py").write_text("COLOURS = {'failed': 'red'}\n")
    assert fingerprint(root, 3000, {}) != edited
    (root / "reflex.lock" / "bun.lock").write_text('{"lockfileVersion": 1}\n')
    assert fingerprint(root, 3000, {}) not in (first, edited)


def test_bytecode_and_generated_assets_do_not_count(tmp_path: Path) -> None:
    root = app_root(tmp_path)
    before = fingerprint(root, 3000, {})
    (root / "studio" / "__pycache__").mkdir()
    (root / "studio" / "__pycache__" / "home.cpython-311.pyc").write_bytes(b"\0")
    (root / "assets" / "external").mkdir(parents=True)
    (root / "assets" / "external" / "flow.css").write_text("a{}\n")
    assert fingerprint(root, 3000, {}) == before
    (root / "assets" / "favicon.svg").write_text("<svg/>\n")
    assert fingerprint(root, 3000, {}) != before


def test_a_build_is_current_only_when_complete_and_made_from_the_same_stamp(
    tmp_path: Path,
) -> None:
    web = tmp_path / "web"
    assert not is_current(web, "abc")
    (web / "build" / "client").mkdir(parents=True)
    (web / STAMP).write_text("abc\n")
    assert not is_current(web, "abc"), "a build without its index.html is not complete"
    (web / "build" / "client" / "index.html").write_text("<html></html>")
    assert is_current(web, "abc")
    assert not is_current(web, "def")


def test_the_locked_environment_ships_a_bun() -> None:
    bun = bundled_bun()
    assert bun is not None and bun.is_file()
