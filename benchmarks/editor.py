"""Editor benchmark: a 200-node workflow in the studio's editor (``plait studio``, Debian
Chromium). Prints:

- validation per edit in the server (``editor_check.check``, what every edit runs), beside
  its floor measured in the same run: building the same graph with ``g.add`` calls as a
  notebook does, and ``Graph.validate``;
- a draft save per edit (what ``studio.states.editor.save_document`` does: the document as
  a draft, ``drafts.save_draft`` with its revision, ``checked=True`` as the edit was just
  validated), beside its floor in the same run: one raw psycopg ``UPDATE workflow_draft``
  of the same JSON with its revision check;
- the browser: open ``/editor/<name>`` to interactive (the canvas drawn and the document's
  200 nodes checked), a config edit to its validation shown, a node drag (mouse moves on
  the canvas, and the drop to the server's checked answer).

    uv run python benchmarks/editor.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import json

import psycopg

import runtime as rt
from benchmarks.local import database, libpq
from runtime.graph import Graph
from runtime.nodes import palette
from studio.logic import editor, editor_check, editor_drafts
from tests.browser import chromium
from tests.studio.conftest import start_studio, stop_studio

LAYERS, WIDTH = 20, 10
NAME = "bench_editor_200"


def document() -> editor.Document:
    """20 layers of 10 nodes, each reading one node of the layer before (templates and
    transforms alternating)."""
    doc = editor.new_document(NAME)
    for layer in range(LAYERS):
        for i in range(WIDTH):
            name = f"n{layer}_{i}"
            if layer == 0:
                node = {"kind": "template", "config": {"template": "{{ inputs.seed }} " + name}}
            elif layer % 2:
                node = {
                    "kind": "transform",
                    "config": {"expression": f"nodes.n{layer - 1}_{i}.output"},
                }
            else:
                src = f"n{layer - 1}_{(i + 1) % WIDTH}"
                node = {
                    "kind": "template",
                    "config": {"template": f"{{{{ nodes.{src}.output }}}}!"},
                }
            doc["nodes"].append({"name": name, "x": 0.0, "y": 0.0, **node})
            if layer:
                src = f"n{layer - 1}_{i if layer % 2 else (i + 1) % WIDTH}"
                doc["edges"].append([src, name])
    return editor.auto_layout(doc)


def notebook_graph(doc: editor.Document) -> Graph:
    g = Graph(NAME)
    for node in doc["nodes"]:
        build = palette.template if node["kind"] == "template" else palette.transform
        g.add(node["name"], build(*node["config"].values()))
    return g.validate()


CHANGED = "(r) => document.querySelector('#check-time').getAttribute('data-revision') !== r"


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"


def server_side(doc: editor.Document, repeats: int = 30) -> None:
    checks, floors = [], []
    editor_check.check(doc)  # warm: the template and expression parsers' first imports
    notebook_graph(doc)
    for i in range(repeats):
        edited = editor.set_config(doc, "n5_3", "expression", f"nodes.n4_3.output || `{i}`")
        started = time.perf_counter()
        found = editor_check.check(edited)
        checks.append(time.perf_counter() - started)
        assert found.problems == [], found.problems
        started = time.perf_counter()
        notebook_graph(edited)
        floors.append(time.perf_counter() - started)
    ratio = statistics.median(checks) / statistics.median(floors)
    print(f"validation per edit, 200 nodes: {ms(checks)}")
    print(f"  floor (g.add x200 + validate, as a notebook): {ms(floors)}; ratio {ratio:.2f}x")


def draft_saves(doc: editor.Document, repeats: int = 30) -> None:
    from runtime import drafts

    with database() as url, tempfile.TemporaryDirectory() as home:
        client = rt.connect(url, home=home)
        saved, _ = drafts.save_draft(client, NAME, editor_drafts.to_draft(doc), None, "bench")
        revision = saved.revision
        saves, floors = [], []
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            for i in range(repeats):
                edited = editor.set_config(doc, "n5_3", "expression", f"nodes.n4_3.output || `{i}`")
                started = time.perf_counter()
                saved, _ = drafts.save_draft(
                    client, NAME, editor_drafts.to_draft(edited), revision, "bench", checked=True
                )
                saves.append(time.perf_counter() - started)
                revision = saved.revision
                blob = json.dumps(editor_drafts.to_draft(edited))
                started = time.perf_counter()
                conn.execute(
                    "UPDATE workflow_draft SET spec = %s, revision = revision + 1 "
                    "WHERE id = %s AND revision = %s",
                    (blob, saved.id, revision),
                )
                floors.append(time.perf_counter() - started)
                revision += 1
        client.close()
    ratio = statistics.median(saves) / statistics.median(floors)
    print(f"draft save per edit, 200 nodes (PostgreSQL, as the editor saves): {ms(saves)}")
    print(f"  floor (raw psycopg UPDATE of the same JSON): {ms(floors)}; ratio {ratio:.1f}x")


def browser_side(doc: editor.Document, repeats: int = 3) -> None:
    home = Path(tempfile.mkdtemp(prefix="plait-bench-editor-"))
    studio = start_studio({}, home, "bench-editor")
    try:
        client = studio.connect()
        client.publish(editor_check.graph_of(doc))
        with chromium() as browser:
            opens, edits, moves, drops, floor = [], [], [], [], []
            for _ in range(repeats):
                # each open is of the published version: the last round's edits saved a draft
                client.store.discard_draft(NAME)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                started = time.perf_counter()
                page.goto(f"{studio.url}/editor/{NAME}")
                page.wait_for_function(
                    "() => (document.querySelector('#check-time')?.textContent || '')"
                    ".startsWith('200 nodes') && document.querySelector('.react-flow__node')",
                    timeout=60_000,
                )
                opens.append(time.perf_counter() - started)
                for i in range(5):
                    target = page.locator('.react-flow__node[data-id="n0_0"]')
                    target.click()
                    row = page.locator(
                        "#node-config [data-field] textarea, #node-config [data-field] input"
                    ).first
                    before = page.locator("#check-time").get_attribute("data-revision")
                    row.fill(f"{{{{ inputs.seed }}}} edited {i} {time.time()}")
                    started = time.perf_counter()
                    row.blur()
                    page.wait_for_function(
                        CHANGED,
                        arg=before,
                        timeout=30_000,
                    )
                    edits.append(time.perf_counter() - started)
                    box = target.bounding_box()
                    assert box is not None
                    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                    page.mouse.move(cx, cy)
                    page.mouse.down()
                    steps = 30
                    started = time.perf_counter()
                    page.mouse.move(cx, cy + 120, steps=steps)
                    moves.append((time.perf_counter() - started) / steps)
                    before = page.locator("#check-time").get_attribute("data-revision")
                    started = time.perf_counter()
                    page.mouse.up()
                    page.wait_for_function(
                        CHANGED,
                        arg=before,
                        timeout=30_000,
                    )
                    drops.append(time.perf_counter() - started)
                    # the floor: the same mouse moves over the palette (no canvas work)
                    side = page.locator("#palette").bounding_box()
                    assert side is not None
                    page.mouse.move(side["x"] + 20, side["y"] + 100)
                    started = time.perf_counter()
                    page.mouse.move(side["x"] + 20, side["y"] + 220, steps=steps)
                    floor.append((time.perf_counter() - started) / steps)
                page.close()
        print(f"open /editor (200 nodes) to interactive: {ms(opens)} ({repeats} loads)")
        print(f"config edit -> its validation shown in the page: {ms(edits)}")
        print(f"drag: one mouse move on the canvas (local, no round trip): {ms(moves)}")
        print(f"  floor (one mouse move over the palette, Playwright's own cost): {ms(floor)}")
        print(f"drag: drop -> the server's checked answer shown: {ms(drops)}")
    finally:
        stop_studio(studio)


def main() -> None:
    doc = document()
    assert len(doc["nodes"]) == 200
    server_side(doc)
    draft_saves(doc)
    if "--no-browser" not in sys.argv:
        browser_side(doc)


if __name__ == "__main__":
    main()
