"""Every example notebook, executed top to bottom on a real kernel (nbclient), with its
outputs checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REDIS_URL, _truncate
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
    return [c for c in book.cells if c.cell_type == "code"]


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
    import runtime as rt

    rt.connect(pg_url, home=tmp_path).close()
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1)
        for key, value in c.env.items():
            if key.startswith("PLAIT_"):
                monkeypatch.setenv(key, value)
        cells = code_cells(execute("05_workers.ipynb", tmp_path))
    assert text_of(cells[-1]).strip() == "succeeded 42 ran in another process: True"
