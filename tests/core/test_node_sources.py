"""Each version keeps the source text of its function nodes' code (``node_sources``), outside
its hash: the version diff (``drafts.diff_versions``, ``plait workflows diff``) shows code
changes with both sources, and falls back to the digests for versions stored without them.
On SQLite and PostgreSQL."""

from __future__ import annotations

import inspect
import linecache
import textwrap
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import runtime as rt
from runtime import catalog, drafts
from runtime.cli import app as cli
from runtime.drafts import Change
from runtime.errors import NotFound
from runtime.graph import SOURCE_CAP
from runtime.store import db, tables
from tests.core.test_drafts import greeter


def load_v1(x: int) -> list[int]:
    return list(range(x))


def load_v2(x: int) -> list[int]:
    # the edit: every other number
    return list(range(0, x, 2))


def total(load: list[int]) -> int:
    return sum(load)


class Doubler:
    def __call__(self, x: int) -> int:
        return 2 * x


def codes(load: Any) -> rt.Graph:
    g = rt.Graph("codes")
    g.add("load", load)
    g.add("total", total)
    g.add("double", Doubler(), inputs={"x": "x"})  # a callable object: no source to read
    return g


def source(fn: Any) -> str:
    return textwrap.dedent(inspect.getsource(fn))


def test_a_changed_function_body_is_a_code_change_with_both_sources(client: rt.Client) -> None:
    v1 = client.publish(codes(load_v1))
    v2 = client.publish(codes(load_v2))
    old = client.store.find_version("codes", v1.version)
    new = client.store.find_version("codes", v2.version)
    assert old.node_sources == {"load": source(load_v1), "total": source(total)}
    assert new.node_sources == {"load": source(load_v2), "total": source(total)}
    assert "range(x)" not in str(old.spec) and "range(0, x, 2)" not in str(new.spec)

    found = drafts.diff_versions(old, new)
    assert found.changed == {"load": [Change("code", source(load_v1), source(load_v2))]}
    assert sorted(found.unchanged) == ["double", "total"]
    assert (found.added, found.removed, found.workflow) == ([], [], [])
    assert drafts.diff_specs(old.spec, new.spec).changed == {}  # the spec alone cannot tell
    assert drafts.diff_versions(new, new).changed == {}

    assert catalog.node_source(client.store, "codes", v1.version, "load") == source(load_v1)
    assert catalog.node_source(client.store, "codes", None, "load") == source(load_v2)
    assert catalog.node_source(client.store, "codes", None, "double") is None
    with pytest.raises(NotFound):
        catalog.node_source(client.store, "codes", "ffffffff", "load")

    # stored with the first publish: publishing the same version again rewrites nothing
    again = client.store.publish(
        "codes", v1.version, old.spec, old.code, old.key_id, node_sources={"load": "other"}
    )
    assert again.node_sources == old.node_sources


def test_a_draft_test_version_keeps_its_sources_once_published(client: rt.Client) -> None:
    draft = client.publish(codes(load_v1), draft=True)
    assert draft.node_sources == {"load": source(load_v1), "total": source(total)}
    published = client.publish(codes(load_v1))
    assert published.id == draft.id and published.published
    assert published.node_sources == draft.node_sources


def test_library_nodes_have_no_source_and_keep_their_version() -> None:
    graph = drafts.build(greeter())
    assert graph.node_sources() == {}
    # the version this graph had before sources were kept: they are not part of it
    assert graph.version == "9637d19714ddd22c"


def test_sources_are_not_part_of_the_version() -> None:
    """The same code gives one version whether its source can be read or not."""
    text = "def node(x):\n    return x + 1\n"
    graphs = []
    for readable in (False, True):
        filename = f"<cell {readable}>"
        if readable:  # what IPython does for a notebook cell's code
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(text, filename, "exec"), namespace)
        g = rt.Graph("cell")
        g.add("out", namespace["node"])
        graphs.append(g)
    unreadable, readable = graphs
    assert unreadable.node_sources() == {} and readable.node_sources() == {"out": text}
    assert unreadable.version == readable.version


def test_a_source_over_the_cap_is_not_recorded() -> None:
    text = f"def node(x):\n    return x + len('{'a' * SOURCE_CAP}')\n"  # a table pasted in
    filename = "<cell huge>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(text, filename, "exec"), namespace)
    g = rt.Graph("huge")
    g.add("out", namespace["node"])
    g.add("total", total, inputs={"load": "out"})
    assert g.node_sources() == {"total": source(total)}


def _without_sources(store: Any, version_id: int) -> tables.WorkflowVersion:
    """The version as a row stored before sources were kept reads."""
    wv = tables.workflow_version
    with store.write() as conn:
        conn.execute(sa.update(wv).where(wv.c.id == version_id).values(node_sources=None))
    return store.get_version(version_id)


def test_versions_without_sources_fall_back_to_their_digests(client: rt.Client) -> None:
    v1 = client.publish(codes(load_v1))
    v2 = client.publish(codes(load_v2))
    old = _without_sources(client.store, v1.id)
    new = client.store.get_version(v2.id)  # type: ignore[arg-type]
    found = drafts.diff_versions(old, new)
    # its code changed; the old source was not recorded
    assert found.changed == {"load": [Change("code", None, source(load_v2))]}
    assert sorted(found.unchanged) == ["double", "total"]
    neither = drafts.diff_versions(old, _without_sources(client.store, v2.id))  # type: ignore[arg-type]
    assert neither.changed == {"load": [Change("code", None, None)]}
    # no digests either (the oldest rows): nothing tells, nothing is claimed
    assert drafts.diff_versions(old.model_copy(update={"node_digests": None}), new).changed == {}


def test_cli_diff_shows_a_code_change_as_a_unified_diff(client: rt.Client) -> None:
    v1 = client.publish(codes(load_v1))
    v2 = client.publish(codes(load_v2))
    result = CliRunner().invoke(cli, ["workflows", "diff", "codes", v1.version, v2.version])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "~ load" and lines[1] == "    code:"
    assert f"      --- load @ {v1.version}" in lines and f"      +++ load @ {v2.version}" in lines
    assert "      -    return list(range(x))" in lines
    assert "      +    return list(range(0, x, 2))" in lines
    assert "total" not in result.output and "double" not in result.output

    _without_sources(client.store, v1.id)  # type: ignore[arg-type]
    result = CliRunner().invoke(cli, ["workflows", "diff", "codes", v1.version, v2.version])
    assert result.output.splitlines() == ["~ load", "    code: changed (source not recorded)"]


def test_a_secret_typed_into_a_function_is_not_shown(client: rt.Client) -> None:
    def connect_v1() -> str:
        api_key = "sk-live-abcdef123456"
        return api_key[:2]

    def connect_v2() -> str:
        api_key = "sk-live-abcdef123456"
        return api_key[:3]

    g1, g2 = rt.Graph("secretive"), rt.Graph("secretive")
    g1.add("connect", connect_v1)
    g2.add("connect", connect_v2)
    v1, v2 = client.publish(g1), client.publish(g2)
    found = drafts.diff_versions(v1, v2)
    assert "sk-live-abcdef123456" in found.changed["connect"][0].old  # stored as written
    shown = found.shown()
    ((change,),) = shown.changed.values()
    assert "sk-live-abcdef123456" not in change.old + change.new
    assert "api_key[:3]" in change.new
    assert "sk-live" not in str(catalog.node_source(client.store, "secretive", None, "connect"))


def test_migration_0024_adds_and_drops_node_sources(db_url: str) -> None:
    from alembic import command

    engine = db.create_engine(db_url)
    db.upgrade(engine)
    config = db._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0023")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("workflow_version")}
    assert "node_digests" in columns and "node_sources" not in columns
    wf, wv = tables.workflow, tables.workflow_version
    with engine.begin() as conn:
        workflow_id = conn.execute(
            sa.insert(wf).values(name="before_0024", created_at=tables.utcnow()).returning(wf.c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(wv).values(
                workflow_id=workflow_id,
                version="v1",
                spec={"name": "before_0024"},
                code=b"",
                created_at=tables.utcnow(),
            )
        )
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        row = conn.execute(sa.select(wv.c.node_sources).where(wv.c.version == "v1")).one()
    assert row.node_sources is None
    engine.dispose()


def test_hamilton_nodes_show_the_functions_they_come_from() -> None:
    from tests.hamilton import columns

    g = rt.Graph.from_hamilton("columns", columns)
    shown = g.node_sources()
    assert shown["total_spend"] == source(columns.total_spend)
    # the columns @extract_columns splits out come from the decorated function
    assert shown["spend"] == shown["raw"] and "@extract_columns" in shown["raw"]


def test_a_faked_node_shows_no_source() -> None:
    from runtime.testing.fakes import faked

    g = faked(codes(load_v1), {"load": [1, 2]})
    assert g.node_sources() == {"total": source(total)}  # not the fake's wrapper


def _helper_v1(x: int) -> int:
    return x + 1


def _helper_v2(x: int) -> int:
    return x + 2


_helper = _helper_v1


def uses_helper(x: int) -> int:
    return _helper(x)


def test_a_changed_helper_is_a_code_change_though_the_node_reads_the_same(
    client: rt.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def graph() -> rt.Graph:
        g = rt.Graph("helped")
        g.add("uses_helper", uses_helper)
        return g

    v1 = client.publish(graph())
    monkeypatch.setitem(globals(), "_helper", _helper_v2)
    v2 = client.publish(graph())
    assert v1.version != v2.version  # the digest covers the helper it calls
    old = client.store.find_version("helped", v1.version)
    new = client.store.find_version("helped", v2.version)
    found = drafts.diff_versions(old, new)
    text = source(uses_helper)
    assert found.changed == {"uses_helper": [Change("code", text, text)]}
    assert drafts.code_change_lines(found.changed["uses_helper"][0]) == (
        "changed in code it calls (its own source reads the same)",
        [],
    )
