"""The ``plait`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GRAPHS = textwrap.dedent(
    """
    import runtime as rt

    pipeline = rt.Graph("cli_pipeline")

    @pipeline.node
    def numbers(n: int) -> list:
        return list(range(n))

    @pipeline.node
    def total(numbers: list, scale: float = 1.0) -> float:
        return sum(numbers) * scale

    broken = rt.Graph("cli_broken")

    @broken.node
    def explode() -> None:
        raise KeyError("missing thing")

    review = rt.Graph("cli_review")
    review.wait("approve", {"ok": bool, "note": (str, "")})

    @review.node
    def verdict(approve: dict) -> str:
        return "yes" if approve["ok"] else "no"
    """
)


@pytest.fixture
def plait(db_url: str, tmp_path: Path):
    (tmp_path / "flows.py").write_text(GRAPHS)
    base_env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "home")}

    def call(
        *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env={**base_env, **(env or {})},
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return call


def test_run_prints_progress_and_outputs(plait) -> None:
    result = plait("run", "flows.py:pipeline", "-i", "n=5", "-i", "scale=0.5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run ") and "cli_pipeline" in lines[0]
    assert any(line.endswith("✓ numbers") for line in lines)
    assert any(line.endswith("✓ total") for line in lines)
    assert lines[-1] == "total = 5.0"


def test_failed_run_exits_non_zero_with_the_error(plait) -> None:
    result = plait("run", "flows.py:broken")
    assert result.returncode == 1
    assert "✗ explode: KeyError: 'missing thing'" in result.stdout
    assert 'raise KeyError("missing thing")' in result.stderr


def test_bad_input_and_bad_target_are_clear(plait) -> None:
    result = plait("run", "flows.py:pipeline", "-i", "m=3")
    assert result.returncode == 1
    assert "missing required input(s): n; unexpected input(s): m" in result.stderr
    result = plait("run", "flows.py:nothing")
    assert result.returncode == 1
    assert "flows.py has no Graph named 'nothing'" in result.stderr


def test_wait_resume_runs_and_show(plait) -> None:
    started = plait("run", "flows.py:review")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[1]
    assert "… approve is waiting for input" in started.stdout
    assert f"plait resume {run_id} approve --json" in started.stdout

    bad = plait("resume", run_id, "approve", "--json", json.dumps({"ok": "perhaps"}))
    assert bad.returncode == 1
    assert "payload for wait node 'approve' is invalid" in bad.stderr

    good = plait("resume", run_id, "approve", "--json", json.dumps({"ok": True}))
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[-1] == "verdict = 'yes'"

    listing = plait("runs")
    assert run_id in listing.stdout and "cli_review" in listing.stdout
    assert run_id in plait("runs", "--trigger", "cli").stdout
    assert plait("runs", "--trigger", "webhook").stdout.strip() == "no runs"
    assert plait("runs", "--owner", "nobody").stdout.strip() == "no runs"

    shown = plait("show", run_id)
    assert shown.returncode == 0
    assert "approve" in shown.stdout and "verdict" in shown.stdout
    assert "succeeded" in shown.stdout


def test_share_creates_lists_and_revokes_links(plait) -> None:
    run_id = plait("run", "flows.py:pipeline", "-i", "n=2").stdout.split()[1]
    bad = plait("share", run_id, "--expires", "1w")
    assert bad.returncode == 1
    assert "link lifetime '1w': use a number and m, h or d (e.g. 7d), or never" in bad.stderr
    made = plait("share", run_id, "--expires", "12h")
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"/r/[\w-]{32}", made.stdout.strip())  # 192 random bits
    assert "set PLAIT_PUBLIC_URL to print whole links" in made.stderr
    public = plait("share", run_id, env={"PLAIT_PUBLIC_URL": "https://plait.example.com/"})
    assert re.fullmatch(r"https://plait\.example\.com/r/[\w-]{32}", public.stdout.strip())
    (link_id, state, until), _ = [
        line.split() for line in plait("share", run_id, "--list").stdout.splitlines()
    ]
    assert state == "active" and until[:4].isdigit()
    assert plait("share", "--revoke", link_id).stdout.strip() == f"revoked link {link_id}"
    assert plait("share", run_id, "--list").stdout.split()[1] == "revoked"
    again = plait("share", "--revoke", link_id)
    assert again.returncode == 1 and f"no active share link with id {link_id}" in again.stderr


def test_demo_and_db_upgrade(plait) -> None:
    upgraded = plait("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "schema at revision" in upgraded.stdout
    demo = plait("demo")
    assert demo.returncode == 0, demo.stderr
    assert "✓ report" in demo.stdout
    assert "report = 'total revenue" in demo.stdout
    assert "plait show " in demo.stdout


def test_users_keys_and_secrets_from_the_command_line(plait) -> None:
    call = plait
    added = call(
        "users", "add", "ada", "--role", "admin", "--password-stdin", stdin="long password 1\n"
    )
    assert added.returncode == 0 and "added admin ada" in added.stdout, added.stderr
    short = call("users", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert "bob" not in call("users", "list").stdout
    last = call("users", "disable", "ada")
    assert last.returncode == 1 and "last active admin" in last.stderr
    made = call("keys", "create", "--name", "ci", "--role", "editor", "--expires", "90d")
    token = made.stdout.strip()
    assert re.fullmatch(r"plait_[0-9a-f]{12}_[\w-]{43}", token), made.stdout
    assert "shown once" in made.stderr
    listed = call("keys", "list").stdout
    assert "ci" in listed and token.split("_", 2)[2] not in listed
    bad = call("keys", "create", "--name", "x", "--expires", "3 weeks")
    assert bad.returncode == 1 and "key lifetime" in bad.stderr
    stored = call("secrets", "set", "OPENAI_API_KEY", stdin="sk-from-stdin-123\n")
    assert stored.returncode == 0 and "stored secret OPENAI_API_KEY" in stored.stdout
    shown = call("secrets", "list").stdout
    assert "OPENAI_API_KEY" in shown and "sk-from-stdin" not in shown and "cli:" in shown
    assert "re-encrypted 1 secret(s)" in call("secrets", "rotate").stdout


def test_a_networked_studio_without_users_is_refused(plait) -> None:
    refused = plait("studio", "--host", "0.0.0.0", "--port", "39998")
    assert refused.returncode == 1
    assert "no users yet" in refused.stderr
    assert "plait users add NAME --role admin" in refused.stderr
    off = plait("studio", "--host", "0.0.0.0", env={"PLAIT_AUTH": "off"})
    assert off.returncode == 1 and "PLAIT_AUTH=off" in off.stderr


def test_run_inputs_are_read_as_their_declared_types(plait) -> None:
    bad = plait("run", "flows.py:pipeline", "-i", "n=three")
    assert bad.returncode == 1
    assert "input 'n' expects int" in bad.stderr and "'three' (str)" in bad.stderr
    assert bad.stdout == ""  # no run was started
    assert plait("runs").stdout.strip() == "no runs"
    good = plait("run", "flows.py:pipeline", "-i", "n=3", "-i", "scale=2")
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[-1] == "total = 6.0"


def test_commands_that_did_not_do_what_was_asked_exit_non_zero(plait) -> None:
    done = plait("run", "flows.py:pipeline", "-i", "n=2")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]
    cancelled = plait("cancel", run_id)  # it finished: nothing to cancel
    assert cancelled.returncode == 1
    assert "already succeeded" in cancelled.stderr
    resumed = plait("resume", run_id, "approve", "--json", '{"ok": true}')
    assert resumed.returncode == 1 and resumed.stderr.strip()
    assert plait("show", "no-such-run").returncode == 1
    typo = plait("runs", "--status", "suceeded")
    assert typo.returncode == 1 and "unknown status 'suceeded'" in typo.stderr
    assert "succeeded" in typo.stderr and typo.stdout == ""
    assert plait("recover").stdout.strip() == "nothing to recover"  # asked nothing of it


def test_a_cli_run_records_its_os_user_as_the_publisher(plait, db_url: str) -> None:
    from runtime.store import open_store

    done = plait("run", "flows.py:pipeline", "-i", "n=2", env={"LOGNAME": "ada", "USER": "ada"})
    assert done.returncode == 0, done.stderr
    store = open_store(db_url)
    try:
        (version,) = store.version_infos("cli_pipeline")
        assert version.created_by == "cli:ada"
    finally:
        store.dispose()


def test_refused_admin_commands_are_audited(plait, db_url: str) -> None:
    from runtime import audit
    from runtime.store import open_store

    as_ada = {"LOGNAME": "ada", "USER": "ada"}
    added = plait(
        "users", "add", "ada", "--role", "admin", "--password-stdin", stdin="long password 1\n"
    )
    assert added.returncode == 0, added.stderr
    last = plait("users", "disable", "ada", env=as_ada)
    assert last.returncode == 1 and "last active admin" in last.stderr
    demoted = plait("users", "set-role", "ada", "viewer", env=as_ada)
    assert demoted.returncode == 1
    unknown = plait("keys", "revoke", "0123456789ab", env=as_ada)
    assert unknown.returncode == 1 and "no active API key" in unknown.stderr
    bad = plait("secrets", "set", "bad-name", stdin="sk-a-long-value\n", env=as_ada)
    assert bad.returncode == 1
    store = open_store(db_url)
    try:
        entries, _ = audit.entries(store)
    finally:
        store.dispose()
    refused = {(e.action, e.target): e for e in entries if e.outcome != "ok"}
    assert set(refused) == {
        ("user.disable", "ada"),
        ("user.set_role", "ada"),
        ("key.revoke", "0123456789ab"),
        ("secret.set", "bad-name"),
    }
    for entry in refused.values():
        assert (entry.actor, entry.outcome) == ("cli:ada", "failed") and entry.detail["error"]
    assert "last active admin" in refused["user.disable", "ada"].detail["error"]
    assert refused["user.set_role", "ada"].detail["role"] == "viewer"
    assert all("sk-a-long-value" not in str(e.detail) for e in entries)
    assert [e.outcome for e in entries if e.action == "user.add"] == ["ok"]
