"""What the runs page and a run's page keep in their address: the runs list's filters and
page, a run's selected node. Reading is forgiving (a hand-edited or stale address shows the
nearest valid view, never an error) and writing leaves out what is at its default, so the
plain ``/runs`` stays plain and Back returns to exactly what was shown."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode

from runtime import catalog
from runtime.errors import InputError

ALL = "all"
"""A filter that lets everything through (the selects' first option)."""

FILTERS = ("workflow", "status", "trigger", "owner")
"""The runs page's filters, in the order the address lists them."""


@dataclass(frozen=True)
class RunsQuery:
    """The runs page's filters and where in the list it is."""

    workflow: str = ALL
    status: str = ALL
    trigger: str = ALL
    owner: str = ALL
    page: int = 0
    """0 for the first page."""
    after: str = ""
    """The cursor the page starts after (``catalog.cursor``); empty: count ``page`` pages
    from the top."""

    def filtered(self, name: str, value: str) -> RunsQuery:
        """The query with one filter changed: back on the first page."""
        return replace(self, **{name: value or ALL}, page=0, after="")


def runs_query(params: Mapping[str, str]) -> RunsQuery:
    """The query an address's parameters ask for. An unknown status or trigger, a page that
    is no number and a cursor that is no cursor are ignored (the first page, unfiltered by
    it): an old bookmark still opens."""
    values = {f: (params.get(f) or "").strip() or ALL for f in FILTERS}
    if values["status"] not in catalog.RUN_STATUSES:
        values["status"] = ALL
    if values["trigger"] not in catalog.TRIGGERS:
        values["trigger"] = ALL
    try:
        page = max(0, int(params.get("page") or 0))
    except ValueError:
        page = 0
    after = (params.get("after") or "").strip()
    if after:
        try:
            catalog.parse_cursor(after)
        except InputError:
            after = ""
    if page == 0:
        after = ""
    return RunsQuery(page=page, after=after, **values)


def runs_href(query: RunsQuery) -> str:
    """``/runs?status=failed&page=2&after=…``; ``/runs`` for the default view."""
    params = {f: getattr(query, f) for f in FILTERS if getattr(query, f) != ALL}
    if query.page:
        params["page"] = str(query.page)
        if query.after:
            params["after"] = query.after
    return "/runs" + ("?" + urlencode(params) if params else "")


def known_cursors(cursors: list[str], page: int, after: str) -> list[str]:
    """The cursors of the pages before ``page`` (``after`` the last of them) that this tab
    knows: those it went through when the address agrees with them (Back to page 2 keeps
    page 1's), else only ``after``; an unknown one is ``""`` (that page counts rows from
    the top instead)."""
    if page <= 0:
        return []
    if len(cursors) >= page and cursors[page - 1] == after and after:
        return cursors[:page]
    return [""] * (page - 1) + [after]


def run_href(run_id: str, node: str = "") -> str:
    """A run's page, with ``node`` selected (``?node=<name>``) when given."""
    path = "/runs/" + quote(run_id, safe="")
    return path + ("?" + urlencode({"node": node}) if node else "")


def selected_node(params: Mapping[str, str], nodes: Collection[str]) -> str:
    """The node ``?node=`` names, if the run has it; else ``""``."""
    name = params.get("node") or ""
    return name if name in nodes else ""
