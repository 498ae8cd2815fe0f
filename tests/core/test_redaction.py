"""The one redaction policy: secret keys, known values, text patterns; node logs redacted
before they are stored; the CLI's views of a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pydantic import BaseModel, SecretStr

import runtime as rt
from runtime.context import NodeContext
from runtime.redaction import REDACTED, Redactor, StreamRedactor, secret_key
from tests import secret_flows
from tests.secret_flows import assert_no_secret

ROOT = Path(__file__).parent.parent.parent


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "DB_PASSWORD",
        "passwd",
        "api_key",
        "X-API-Key",
        "apiKey",
        "access_token",
        "client_secret",
        "aws_secret_access_key",
        "private_key",
        "Authorization",
        "set-cookie",
        "credentials",
        "sessionId",
    ],
)
def test_keys_that_look_secret(key: str) -> None:
    assert secret_key(key)


@pytest.mark.parametrize(
    "key", ["passenger", "bypass", "max_tokens", "total_tokens", "author", "primary_key", "user"]
)
def test_keys_that_do_not(key: str) -> None:
    assert not secret_key(key)


def test_values_under_secret_keys_are_replaced_at_any_depth() -> None:
    shown = Redactor().value(
        {
            "user": "ada",
            "db": {"password": "x1", "hosts": [{"api_key": "k2", "port": 5432}]},
            "token": None,  # nothing to hide: shown as it is
            "secret": SecretStr("s3"),
        }
    )
    assert shown == {
        "user": "ada",
        "db": {"password": REDACTED, "hosts": [{"api_key": REDACTED, "port": 5432}]},
        "token": None,
        "secret": REDACTED,
    }


def test_models_frames_and_secret_types() -> None:
    class Login(BaseModel):
        name: str
        password: str

    shown = Redactor()
    assert shown.value(Login(name="a", password="p")) == {"name": "a", "password": REDACTED}
    plain = Login.model_construct(name="a", password="")
    assert shown.value(plain) is plain  # nothing to hide: the model itself
    frame = pd.DataFrame({"user": ["a", "b"], "api_key": ["k1", "k2"]})
    redacted = shown.value(frame)
    assert list(redacted["api_key"]) == [REDACTED, REDACTED]
    assert list(frame["api_key"]) == ["k1", "k2"]  # the value itself is never changed
    assert shown.value(SecretStr("x")) == REDACTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login password=hunter2 ok", f"login password={REDACTED} ok"),
        ('{"api_key": "sk-live-xyz", "n": 1}', f'{{"api_key": "{REDACTED}", "n": 1}}'),
        ("{'password': 'two words'}", f"{{'password': '{REDACTED}'}}"),
        ("Authorization: Bearer abc.def", f"Authorization: Bearer {REDACTED}"),
        ("authorization=Basic dXNlcjpw", f"authorization=Basic {REDACTED}"),
        ("sent Bearer abc123", f"sent Bearer {REDACTED}"),
        ("postgresql://ada:pa55@db:5432/x", f"postgresql://ada:{REDACTED}@db:5432/x"),
        ("max_tokens=100 user=ada", "max_tokens=100 user=ada"),
        ("token=None", "token=None"),
    ],
)
def test_text_patterns(text: str, expected: str) -> None:
    shown = Redactor().text(text)
    assert shown == expected
    assert Redactor().text(shown) == shown  # redacting again changes nothing


def test_known_values_are_replaced_inside_any_text() -> None:
    shown = Redactor(["hunter2", "ab"])  # too short to search for: "ab" stays
    assert shown.text("user ada tried hunter2 (about 'hunter2')") == (
        f"user ada tried {REDACTED} (about '{REDACTED}')"
    )
    assert shown.text("about tab") == "about tab"
    assert shown.value({"note": ["x hunter2 y"]}) == {"note": [f"x {REDACTED} y"]}
    quoted = Redactor(['we"ird-pass'])
    assert quoted.text('{"p": "we\\"ird-pass"}') == f'{{"p": "{REDACTED}"}}'


def test_a_runs_redactor_knows_its_secret_inputs() -> None:
    spec = {"inputs": {"api_key": {"required": False, "default": "sk-default"}}}
    shown = Redactor.from_inputs(
        {"db_password": "pw-1234", "config": {"auth": {"token": "t-5678"}}, "city": "Oslo"}, spec
    )
    assert shown.known == {"pw-1234", "t-5678", "sk-default"}
    assert shown.text("Oslo pw-1234 t-5678 sk-default") == f"Oslo {REDACTED} {REDACTED} {REDACTED}"


def test_excerpts_never_show_part_of_a_secret_at_their_edges() -> None:
    secret = "S" * 40
    shown = Redactor([secret])
    for offset in range(0, 60, 7):
        text = "a" * (1000 + offset) + secret + "b" * 5000 + secret + "c" * (900 + offset)
        excerpt = shown.excerpt(text, 4000)
        assert "SSSS" not in excerpt
        assert "characters left out" in excerpt
        assert len(excerpt) < 4100


def test_node_logs_are_redacted_before_they_are_stored(client: rt.Client) -> None:
    run = secret_flows.leaky.run(db_password=secret_flows.DB_PASSWORD).wait(30)
    rows = [r for r in client.store.attempts(run.id) if r.node == "connect"]
    stored = rows[-1].logs or ""
    assert f"password={REDACTED}" in stored and secret_flows.LOGGED not in stored
    # the stored output keeps the real values: downstream nodes need them
    assert run.output("connect")["password"] == secret_flows.DB_PASSWORD


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_runs_secrets_are_gone_from_stored_logs_errors_and_tracebacks(
    client: rt.Client, isolation: str
) -> None:
    g = rt.Graph(f"leaky_{isolation}", isolation=isolation)  # type: ignore[arg-type]
    g.add("connect", secret_flows.connect)
    g.add("check", secret_flows.check)
    run = g.run(db_password=secret_flows.DB_PASSWORD).wait(60)
    assert run.status == "failed"
    for row in client.store.attempts(run.id):
        stored = " ".join(filter(None, [row.logs, row.error_message, row.traceback]))
        for secret in (secret_flows.DB_PASSWORD, secret_flows.DEFAULT_KEY, secret_flows.LOGGED):
            assert secret not in stored, (row.node, secret, stored)
    failed = next(e for e in run.events() if e["type"] == "node.failed")
    assert secret_flows.DB_PASSWORD not in str(failed["data"])
    assert REDACTED in (client.store.node_attempts(run.id, "check")[-1].error_message or "")


def test_a_node_context_redacts_with_the_known_values_it_is_given() -> None:
    ctx = NodeContext("run", "node", 1, redactor=Redactor(["hunter2-db-pass"]))
    ctx.log("connecting with hunter2-db-pass, token=abc")
    assert ctx.logs[0].endswith(f"connecting with {REDACTED}, token={REDACTED}")
    default = NodeContext("run", "node", 1)
    default.log("password: hunter2")
    assert default.logs[0].endswith(f"password: {REDACTED}")


def test_cli_views_of_a_run_show_no_secret(client: rt.Client, db_url: str, tmp_path: Path) -> None:
    run = secret_flows.run_to_the_end()
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PLAIT_REDIS_URL", None)

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    show = plait("show", run.id)
    assert "PermissionError" in show.stdout and "connect" in show.stdout, show.stderr
    assert_no_secret(show.stdout + show.stderr, "plait show")
    watch = plait("watch", run.id)
    assert "✗ check: PermissionError: login refused for ada with" in watch.stdout, watch.stderr
    assert_no_secret(watch.stdout + watch.stderr, "plait watch")
    # a fresh run printed by `plait run` (its outputs) and `plait resume`
    started = plait(
        "run", "tests.secret_flows:leaky", "-i", f"db_password={secret_flows.DB_PASSWORD}"
    )
    assert "waiting on 'approve'" in started.stdout, started.stderr
    assert_no_secret(started.stdout + started.stderr, "plait run")
    new_id = started.stdout.split()[1]
    answered = plait(
        "resume",
        new_id,
        "approve",
        "--json",
        f'{{"ok": true, "pin_password": "{secret_flows.ANSWER}"}}',
    )
    assert "resumed approve" in answered.stdout, answered.stderr
    assert_no_secret(answered.stdout + answered.stderr, "plait resume")


def test_a_known_value_split_over_streamed_pieces_is_caught() -> None:
    stream = StreamRedactor(Redactor(["hunter2-secret"]))
    out = [stream.feed("a", piece) for piece in ("pass: hun", "ter2-sec", "ret and more text here")]
    assert "".join(out).startswith("pass: ")
    assert "hun" not in "".join(out)
    assert stream.feed("b", "plain text without it, long enough") != ""  # streams apart
    nothing = StreamRedactor(Redactor())
    assert nothing.feed("a", "all of it") == "all of it"  # no value to wait for
