"""The studio's everyday helpers: which nav link is current, the run page's counts per
status, and a cancel request that stops being news once the run has ended."""

from __future__ import annotations

from typing import Any

import pytest

from studio import theme
from studio.logic.nav import section_of
from studio.logic.run_page import RunPage, status_counts


def ev(seq: int, kind: str, node: str | None = None, **data: Any) -> dict:
    return {"run_id": "r", "seq": seq, "type": kind, "node": node, "data": data, "at": seq}


@pytest.mark.parametrize(
    ("path", "href"),
    [
        ("/", "/"),
        ("/workflows/etl", "/"),
        ("/runs", "/runs"),
        ("/runs/abc123", "/runs"),
        ("/runs/abc123?node=x", "/runs"),
        ("/compare", "/runs"),
        ("/schedules", "/schedules"),
        ("/editor", "/editor"),
        ("/settings/keys", "/settings/users"),
        ("/runsx", ""),
        ("/login", ""),
    ],
)
def test_the_nav_link_marked_current(path: str, href: str) -> None:
    assert section_of(path) == href


def test_counts_say_every_status_on_its_own() -> None:
    statuses = {
        "a": "succeeded",
        "b": "succeeded",
        "c": "failed",
        "d": "skipped",
        "e": "cancelled",
        "f": "pending",
        "g": "pending",
        "h": "running",
        "i": "waiting",
        "j": "not_needed",
    }
    counts = status_counts(statuses)
    assert [c.text for c in counts] == [
        "2 succeeded",
        "1 failed",
        "1 running",
        "1 waiting",
        "1 skipped",
        "1 cancelled",
        "1 not needed",
        "2 pending",
    ]
    # skipped, cancelled and pending differ in colour and in icon
    trio = {c.status: c for c in counts if c.status in ("skipped", "cancelled", "pending")}
    assert len({c.colour for c in trio.values()}) == 3
    assert len({c.icon for c in trio.values()}) == 3
    assert len({theme.BADGE[s] for s in trio}) == 3


def test_every_node_status_has_a_colour_of_its_own() -> None:
    shown = ("pending", "running", "waiting", "succeeded", "failed", "skipped", "cancelled")
    assert len({theme.status_colour(s) for s in shown}) == len(shown)


def test_cancel_requested_clears_when_the_run_is_cancelled() -> None:
    spec = {"name": "g", "nodes": [{"name": "a", "depends_on": []}, {"name": "b"}]}
    page = RunPage.create(spec, "LR")
    page.apply([ev(1, "run.running", status="running"), ev(2, "node.running", "a", attempt=1)])
    page.render()
    page.apply([ev(3, "run.cancel_requested")])
    assert page.render()["cancel_requested"] is True
    page.apply([ev(4, "node.cancelled", "a"), ev(5, "run.cancelled", status="cancelled")])
    shown = page.render()
    assert shown["cancel_requested"] is False
    assert [c.text for c in shown["status_counts"]] == ["1 cancelled", "1 pending"]
