"""Every example notebook, executed top to bottom on a real kernel (nbclient), with its
outputs checked."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.workers import cluster

NOTEBOOKS = Path(__file__).parent.parent.parent / "notebooks"


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    shutil.copy(NOTEBOOKS / name, workdir / name)
    book = nbformat.read(workdir / name, as_version=4)
    NotebookClient(
        book,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        store_widget_state=True,
    ).execute()
    return book


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        for key in ("text/plain", "text/html"):
            value = out.get("data", {}).get(key)
            if value:
                parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def code_cells(book: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells after the parameters (the example's own cells, as numbered here)."""
    skipped = {"parameters", "injected-parameters"}
    return [
        c
        for c in book.cells
        if c.cell_type == "code" and not skipped & set(c.metadata.get("tags", []))
    ]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("PLAIT_DATABASE_URL", "PLAIT_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / ".plait"))
    monkeypatch.setenv("PLAIT_AUTO_ANSWER", "1")
    return tmp_path


def test_quickstart(embedded: Path) -> None:
    cells = code_cells(execute("01_quickstart.ipynb", embedded))
    graph = cells[1].outputs[0]["data"]
    assert "data:image/svg+xml;base64," in graph["text/html"]
    assert "summary <- squares, total" in graph["text/plain"]
    run_view = cells[2].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in run_view
    # what a viewer without widgets shows (GitHub, nbviewer): the run as it ended
    assert "data-status='succeeded'" in run_view["text/html"]
    assert "succeeded</b> — 4/4 nodes done" in run_view["text/html"]
    assert run_view["text/plain"].endswith("'quickstart': succeeded — 4/4 nodes done>")
    assert "'sum=55, sum of squares=385'" in text_of(cells[3])
    assert "'succeeded', 1" in text_of(cells[4])
    assert "run.queued" in text_of(cells[5])
    assert (embedded / ".plait" / "plait.db").exists()


def test_human_in_the_loop(embedded: Path) -> None:
    cells = code_cells(execute("02_human_in_the_loop.ipynb", embedded))
    assert "application/vnd.jupyter.widget-view+json" in cells[2].outputs[0]["data"]
    assert text_of(cells[-1]).strip() == (
        "succeeded | A short note about owls. published by robot (score 4)"
    )


def test_dataframes(embedded: Path) -> None:
    cells = code_cells(execute("03_dataframes.ipynb", embedded))
    table = cells[3].outputs[0]["data"]
    assert "<table" in table["text/html"] and "revenue" in table["text/html"]
    for region in ("north", "south", "west"):
        assert region in table["text/plain"]
    assert "'revenue': 'float64'" in text_of(cells[4])
    inline = cells[5].outputs[0]["data"]["text/html"]  # the report, in an isolated frame
    assert inline.startswith("<iframe srcdoc=") and "sales_frames" in inline
    written = (embedded / "sales_report.html").read_text()
    assert "DataFrame: 3 rows, 2 columns" in written and 'data-run-status="succeeded"' in written


def test_llm_chain(embedded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cells = code_cells(execute("04_llm_chain.ipynb", embedded))
    assert text_of(cells[-1]).splitlines() == [
        "Owls fly silently thanks to soft, serrated feathers.",
        "OWLS FLY SILENTLY THANKS TO SOFT, SERRATED FEATHERS.",
    ]


def test_workers(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1)
        for key, value in c.env.items():
            if key.startswith("PLAIT_"):
                monkeypatch.setenv(key, value)
        cells = code_cells(execute("05_workers.ipynb", tmp_path))
    assert text_of(cells[-1]).strip() == "succeeded 42 ran in another process: True"


def test_every_example_notebook_has_a_parameters_cell() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and tagged[0].cell_type == "code", path.name


def test_papermill_runs_the_quickstart_with_a_changed_parameter(embedded: Path) -> None:
    import papermill

    shutil.copy(NOTEBOOKS / "01_quickstart.ipynb", embedded / "in.ipynb")
    papermill.execute_notebook(
        str(embedded / "in.ipynb"),
        str(embedded / "out.ipynb"),
        parameters={"n": 4},
        cwd=str(embedded),
        kernel_name="python3",
        progress_bar=False,
    )
    book = nbformat.read(embedded / "out.ipynb", as_version=4)
    injected = [c for c in book.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "n = 4" in injected[0].source
    cells = code_cells(book)
    assert "'sum=10, sum of squares=30'" in text_of(cells[3])
    run_view = cells[2].outputs[0]["data"]
    assert "succeeded</b> — 4/4 nodes done" in run_view["text/html"]


def _notebook(workdir: Path, cells: list[str]) -> nbformat.NotebookNode:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    book.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src)) for src in cells]
    return book


def _run(book: nbformat.NotebookNode, workdir: Path, timeout: int = 60) -> None:
    NotebookClient(
        book,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    ).execute()


GATED = """
    import threading
    import runtime as rt

    rt.connect()
    gate = threading.Event()
    g = rt.Graph("gated_export")

    @g.node
    def first() -> int:
        gate.wait(30)
        return 1

    @g.node
    def second(first: int) -> int:
        return first + 1
"""


def test_a_displayed_run_is_saved_as_it_was_when_cells_finished(embedded: Path) -> None:
    book = _notebook(
        embedded,
        [
            GATED,
            "run = g.run()\nrun",  # ends while the run is held at the gate
            "snapshot = 'first is running' if run.nodes['first'].status == 'running' else '?'",
            "gate.set()\nrun.wait(30)\nrun.status",  # after this cell: the run has ended
            "done = g.run()\ndisplay(done)\ndone.wait(30)\nNone",  # ended within its cell
        ],
    )
    _run(book, embedded)
    held = book.cells[1].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in held
    assert "data-status='succeeded'" in held["text/html"], held["text/html"][:300]
    assert "succeeded</b> — 2/2 nodes done" in held["text/html"]
    assert held["text/plain"].endswith("'gated_export': succeeded — 2/2 nodes done>")
    same_cell = book.cells[4].outputs[0]["data"]
    assert "succeeded</b> — 2/2 nodes done" in same_cell["text/html"]


def test_await_on_a_waiting_run_in_an_unattended_kernel_names_the_wait(embedded: Path) -> None:
    from nbclient.exceptions import CellExecutionError

    book = _notebook(
        embedded,
        [
            """
            import runtime as rt

            rt.connect()
            g = rt.Graph("unattended_wait")
            g.wait("approve", {"ok": bool})

            @g.node
            def verdict(approve: dict) -> str:
                return "yes" if approve["ok"] else "no"

            run = g.run()
            """,
            "await run",
        ],
    )
    with pytest.raises(CellExecutionError) as raised:
        _run(book, embedded, timeout=60)
    message = str(raised.value)
    assert "RunStateError" in message
    assert "is waiting for input at 'approve'" in message
    assert "run.resume('approve', ...)" in message
