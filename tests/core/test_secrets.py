"""Encrypted secrets: stored encrypted, listed without values, rotated; given only to the
nodes that declare them; and ``[secret:NAME]`` on every surface a value could reach (logs,
tracebacks, outputs, documents, events, report, share page, REST, CLI), before it is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import runtime as rt
from runtime import secrets, sharing
from runtime.api import create_api
from runtime.cli import app as cli
from runtime.config import Settings
from runtime.errors import InputError, NotFound
from runtime.store import tables
from tests import stored_secrets as flows
from tests.stored_secrets import MARK, NAME, VALUE


def store_secret(client: rt.Client, value: str = VALUE) -> secrets.Secrets:
    box = secrets.Secrets(client.store, client.settings)
    box.set(NAME, value, by="alice")
    return box


def everything_stored(client: rt.Client) -> str:
    """Every row of every table, as text (values in blobs included)."""
    parts = []
    with client.store.read() as conn:
        for table in tables.SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_values_are_encrypted_listed_without_values_and_rotated(client: rt.Client) -> None:
    box = store_secret(client)
    assert NAME in {s.name for s in box.list()}
    assert VALUE not in everything_stored(client)
    info = box.list()[0]
    assert (info.created_by, info.updated_by) == ("alice", "alice")
    assert box.reveal([NAME]) == ({NAME: VALUE}, {})
    assert not box.set(NAME, "sk-replaced-value", by="bob")
    assert box.list()[0].updated_by == "bob"
    key_file = client.settings.home / secrets.KEY_FILE
    old_key = key_file.read_text().split()[0]
    with client.store.read() as conn:
        before = conn.execute(sa.select(tables.secret.c.ciphertext)).scalar_one()
    box.keys.prepend_new()
    assert box.rotate() == 1
    with client.store.read() as conn:
        after = conn.execute(sa.select(tables.secret.c.ciphertext)).scalar_one()
    assert after != before
    # only the new key is needed now
    key_file.write_text(key_file.read_text().replace(old_key, "").strip() + "\n")
    assert box.reveal([NAME]) == ({NAME: "sk-replaced-value"}, {})
    box.delete(NAME)
    with pytest.raises(NotFound):
        box.delete(NAME)
    for name, value, says in [
        ("1BAD", VALUE, "secret name"),
        ("OK", "abc", "at least 4 characters"),
        ("OK", "abc\x00def", "NUL"),
    ]:
        with pytest.raises(InputError, match=says):
            box.set(name, value, by=None)
    assert box.list() == []


def test_a_process_with_another_key_cannot_decrypt(client: rt.Client, tmp_path: Path) -> None:
    store_secret(client)
    other = rt.Client(
        Settings.model_validate(
            {
                **client.settings.model_dump(),
                "encryption_key": secrets.generate_key(),
                "home": tmp_path / "elsewhere",
            }
        )
    )
    try:
        values, problems = secrets.Secrets(other.store, other.settings).reveal([NAME])
    finally:
        other.close()
    assert values == {} and "does not decrypt" in problems[NAME]


def test_nodes_get_only_what_they_declare_and_every_trace_reads_the_marker(
    client: rt.Client, tmp_path: Path
) -> None:
    store_secret(client)
    run = flows.leaks.run().wait(60)
    assert run.status == "failed"
    nodes = run.nodes
    assert nodes["call"].status == "succeeded" and MARK in (nodes["call"].logs or "")
    assert "WARNING tests.stored: auth header " + MARK in (nodes["call"].logs or "")
    assert run.output("call")["echo"] == f"used {MARK}"
    assert run.output("passed_on") == f"used {MARK}", "downstream nodes get what is stored"
    assert run.output("in_child") == f"{MARK} from the child"
    assert MARK in (nodes["in_child"].logs or "")
    assert nodes["fails"].error == f"the API refused {MARK}"
    assert MARK in (nodes["fails"].traceback or "")
    assert [d.value for d in run.documents] == [f"POST /v1 with key {MARK}"]
    assert any(MARK in str(e["data"]) for e in run.events())

    # nothing anywhere in the database, and nothing on any surface
    assert VALUE not in everything_stored(client)
    report = run.report(str(tmp_path / "report.html"))
    assert VALUE not in report and MARK in report
    with TestClient(create_api(lambda: client)) as http:
        for path in ("", "/events", "/report", "/documents", "/nodes/call/output"):
            answer = http.get(f"/api/v1/runs/{run.id}{path}")
            assert answer.status_code == 200, (path, answer.text)
            assert VALUE not in answer.text, path
        token, _ = sharing.create_link(run.id, client=client)
        with TestClient(sharing.share_app(client)) as share:
            page = share.get(f"/r/{token}")
            assert page.status_code == 200 and VALUE not in page.text and MARK in page.text
    shown = CliRunner().invoke(cli, ["show", run.id], catch_exceptions=False)
    assert VALUE not in shown.output and MARK in shown.output


def test_an_undeclared_or_missing_secret_fails_the_node_naming_it(client: rt.Client) -> None:
    store_secret(client)
    run = flows.undeclared.run().wait(30)
    assert run.status == "failed"
    assert f"did not declare secret {NAME!r}" in (run.nodes["sneaky"].error or "")
    assert f"secrets=[{NAME!r}]" in (run.nodes["sneaky"].error or "")
    run = flows.missing.run().wait(30)
    error = run.nodes["needs"]
    assert (error.status, error.error_type) == ("failed", "MissingSecret")
    assert "secret 'NOT_SET_ANYWHERE' is not set (plait secrets set NOT_SET_ANYWHERE)" in (
        error.error or ""
    )


def test_a_secret_inside_a_pickle_is_not_stored(client: rt.Client) -> None:
    store_secret(client)
    run = flows.pickled.run().wait(30)
    hold = run.nodes["hold"]
    assert hold.status == "failed" and hold.error_type == "SecretLeak"
    assert f"holds the value of secret {NAME} inside a pickle" in (hold.error or "")
    assert VALUE not in everything_stored(client)


def test_graph_checks_secret_names() -> None:
    g = rt.Graph("names")
    with pytest.raises(rt.GraphError, match="secret name '1X'"):
        g.add("a", lambda: 1, secrets=["1X"])
    with pytest.raises(rt.GraphError, match="a list of names"):
        g.add("b", lambda: 1, secrets="OPENAI_API_KEY")  # type: ignore[arg-type]
    g.add("c", lambda: 1, secrets=["A_KEY"])
    assert g.spec()["nodes"][0]["secrets"] == ["A_KEY"]
    plain = rt.Graph("plain")
    plain.add("c", lambda: 1)
    assert "secrets" not in plain.spec()["nodes"][0], "versions without secrets keep their hash"


def test_secrets_are_scrubbed_inside_nested_values_and_text_arrays(client: rt.Client) -> None:
    import numpy as np
    import pandas as pd
    from langchain_core.messages import AIMessage

    store_secret(client)
    g = rt.Graph("stored_secret_nested")

    @g.node(secrets=[NAME])
    def leak() -> dict:
        key = rt.secret(NAME)
        return {
            "frame": pd.DataFrame({"k": [key, "other"]}),
            "history": [AIMessage(f"the key is {key}")],
            "array": np.array([key, "x"]),
            "scalar": np.str_(key),
            "n": np.float64(1.5),
        }

    run = g.run().wait(30)
    assert run.status == "succeeded", run.nodes["leak"].error
    out = run.output("leak")
    assert list(out["frame"]["k"]) == [MARK, "other"]
    assert out["history"][0].content == f"the key is {MARK}"
    assert out["array"].tolist() == [MARK, "x"] and out["scalar"] == MARK
    assert type(out["n"]) is np.float64
    assert VALUE not in everything_stored(client)
