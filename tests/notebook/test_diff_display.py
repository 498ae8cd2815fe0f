"""A run diff displayed in a real kernel (nbclient): saved as plain HTML with its pictures as
``data:`` URIs, so it reads the same in an untrusted notebook, on GitHub or nbviewer."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.test_notebooks import _notebook, _run, embedded  # noqa: F401

CELLS = [
    """
    import runtime as rt

    rt.connect()

    def build(colour: bytes) -> rt.Graph:
        g = rt.Graph("diff_display")

        @g.node
        def words(n: int = 3) -> str:
            return "\\n".join(f"word {i}" for i in range(n))

        @g.node
        def chart(words: str) -> rt.Picture:
            return rt.Picture("image/png", b"\\x89PNG" + colour)

        return g

    a = build(b"red").run(n=3).wait(30)
    b = build(b"blue").run(n=4).wait(30)
    """,
    "rt.diff(a, b)",
    "b.diff(a).summary()",
]


def test_a_diff_displays_as_html_that_survives_untrusted_viewing(embedded: Path) -> None:  # noqa: F811
    book = _notebook(embedded, CELLS)
    _run(book, embedded)
    shown = book.cells[1].outputs[0]["data"]
    page = shown["text/html"]
    assert "<script" not in page and "<style" not in page and "<iframe" not in page
    assert "<img alt='A' src='data:image/png;base64,iVBOR3JlZA==" in page
    assert "<img alt='B' src='data:image/png;base64,iVBOR2JsdWU=" in page
    assert "<summary>text: +1 -0 lines</summary>" in page
    assert "2 changed; inputs changed: n" in page
    assert shown["text/plain"].splitlines()[2] == "2 changed; inputs changed: n"
    assert book.cells[2].outputs[0]["data"]["text/plain"] == "'2 changed; inputs changed: n'"
