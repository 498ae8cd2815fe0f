"""Code signing: publishers sign with a private Ed25519 key, every loader verifies with public
keys, keys are never minted next to a store that already trusts one, and rotation re-signs
without losing a run. On SQLite and PostgreSQL; the CLI runs as a user would run it."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime import client as client_module
from runtime import codesign, signing
from runtime.errors import LegacySignature, MissingSigningKey, TamperedCode, UnknownSigningKey
from runtime.keys import KeyFile, SigningKey

Connect = Callable[..., rt.Client]


@pytest.fixture
def connect(db_url: str, tmp_path: Path) -> Iterator[Connect]:
    """Clients on one store, each as a process with its own home (``home``) and keys."""
    made: list[rt.Client] = []

    def make(home: str = "home", **keys: object) -> rt.Client:
        c = rt.connect(db_url, home=tmp_path / home, **keys)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
    client_module._default = None


@pytest.fixture
def plait(db_url: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``plait ...`` in a process of its own; keys only from ``env`` (never the caller's)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    base |= {"PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "home")}

    def call(
        *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env={**base, **(env or {})},
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return call


def adder(name: str = "signed_adder") -> rt.Graph:
    g = rt.Graph(name)

    @g.node
    def total(x: int) -> int:
        return x + 1

    return g


def review(name: str) -> rt.Graph:
    g = rt.Graph(name)
    g.wait("approve", {"ok": bool})

    @g.node
    def verdict(approve: dict) -> str:
        return "yes" if approve["ok"] else "no"

    return g


class Effect:
    """Unpickling this creates ``path``: proof that forged bytes were loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def fresh(client: rt.Client) -> rt.Client:
    client._graphs.clear()  # load code from the store, as another process would
    return client


# -- keys --------------------------------------------------------------------------------------


def test_keys_round_trip_as_text_and_bad_ones_are_refused_at_connect(connect: Connect) -> None:
    key = SigningKey.generate()
    again = SigningKey.parse(key.text(), "test")
    assert again.key_id == key.key_id and len(key.key_id) == 16
    assert key.text() not in repr(key)
    cases = {
        "holds a public key": {"signing_key": key.public.text()},
        "not a Plait signing key": {"signing_key": "plait-sk-tooshort"},
        "PLAIT_VERIFY_KEYS key 1 is a private key": {"verify_keys": key.text()},
        "PLAIT_VERIFY_KEYS key 2 is not a Plait public key": {
            "verify_keys": f"{key.public.text()},plait-pk-nope"
        },
    }
    for expected, setting in cases.items():
        with pytest.raises(rt.OptionError) as info:
            connect(**setting)
        assert expected in str(info.value)
        assert key.text() not in str(info.value)  # a secret is never quoted


def test_key_file_is_written_once_whole_and_private(tmp_path: Path) -> None:
    file = KeyFile(tmp_path / "signing_key")
    first, second = SigningKey.generate(), SigningKey.generate()
    assert file.read() is None
    assert file.create(first)
    assert not file.create(second)  # another process got there first: its key stands
    stored = file.read()
    assert stored is not None and stored[0].key_id == first.key_id
    assert (tmp_path / "signing_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["signing_key"]


def test_embedded_default_generates_a_key_on_first_publish(
    connect: Connect, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="plait")
    client = connect()
    path = tmp_path / "home" / "signing_key"
    assert not path.exists()  # connecting signs nothing
    run = adder().run(x=1).wait(10)
    assert run.status == "succeeded", run.error
    stored = KeyFile(path).read()
    assert stored is not None
    key = stored[0]
    version = client.store.get_version(run.record.version_id)
    assert version.key_id == key.key_id == codesign.signer_of(version.code)
    assert path.stat().st_mode & 0o777 == 0o600
    assert key.key_id in caplog.text and key.text() not in caplog.text
    assert fresh(client).load_graph(version.id).version == adder().version  # type: ignore[arg-type]


def test_code_signed_here_runs_where_only_the_public_key_is(connect: Connect) -> None:
    key = SigningKey.generate()
    publisher = connect("publisher", signing_key=key.text())
    version = publisher.publish(adder())
    verifier = connect("verifier", verify_keys=key.public.text())
    assert verifier.keyring.signer is None
    run = verifier.start_version(version.id, {"x": 41}).wait(10)  # type: ignore[arg-type]
    assert run.status == "succeeded", run.error
    assert run.outputs == {"total": 42}
    with pytest.raises(MissingSigningKey) as info:
        verifier.publish(adder("another"))
    assert "PLAIT_SIGNING_KEY" in str(info.value)
    assert verifier.store.code_key_ids() == {key.key_id: 1}  # nothing was stored


def test_unknown_key_is_told_apart_from_tampered_code(connect: Connect, tmp_path: Path) -> None:
    effect = tmp_path / "forged code was loaded"
    key = SigningKey.generate()
    publisher = connect("publisher", signing_key=key.text())
    version = publisher.publish(adder())
    other = publisher.publish(adder("other_adder"))
    stranger = connect("stranger", verify_keys=SigningKey.generate().public.text())
    with pytest.raises(UnknownSigningKey) as unknown:
        stranger.load_graph(version.id)  # type: ignore[arg-type]
    assert not isinstance(unknown.value, TamperedCode)
    assert unknown.value.key_id == key.key_id
    for named in (key.key_id, "PLAIT_SIGNING_KEY", "PLAIT_VERIFY_KEYS"):
        assert named in str(unknown.value)

    verifier = connect("verifier", verify_keys=key.public.text())
    signed = bytes(version.code)
    bound = codesign.subject(version.spec["name"], version.version)
    evil = pickle.dumps(Effect(effect))
    forgeries = {
        "a flipped byte": (signed[:-1] + bytes([signed[-1] ^ 1]), TamperedCode),
        "another payload under the signature": (
            signed[: codesign.HEADER_SIZE] + evil,
            TamperedCode,
        ),
        "another version's code": (bytes(other.code), TamperedCode),
        "unsigned": (evil, TamperedCode),
        "signed by a key nobody trusts": (
            codesign.sign(evil, SigningKey.generate(), bound),
            UnknownSigningKey,
        ),
        "HMAC with PLAIT_SECRET_KEY": (signing.sign(evil, publisher.secret_key), LegacySignature),
    }
    for label, (code, error) in forgeries.items():
        publisher.store.replace_code(version.id, code, key.key_id)  # type: ignore[arg-type]
        with pytest.raises(error):
            fresh(verifier).load_graph(version.id)  # type: ignore[arg-type]
        assert not effect.exists(), f"{label}: forged bytes were unpickled"
    publisher.store.replace_code(version.id, signed, key.key_id)  # type: ignore[arg-type]
    assert fresh(verifier).load_graph(version.id).name == "signed_adder"  # type: ignore[arg-type]


# -- never mint silently -----------------------------------------------------------------------


def test_missing_key_next_to_a_signed_store_stops_with_the_key_id(
    connect: Connect, tmp_path: Path
) -> None:
    first = connect("first")
    first.publish(adder())
    assert first.keyring.signer is not None
    key_id = first.keyring.signer.key_id
    second = connect("second")  # another home: no key file, no key set
    assert [r.id for r in second.runs()] == []  # reading needs no key
    with pytest.raises(MissingSigningKey) as info:
        second.start(adder("second_adder"), {"x": 1})
    message = str(info.value)
    for named in (key_id, "PLAIT_SIGNING_KEY", "PLAIT_HOME", str(tmp_path / "second")):
        assert named in message
    assert info.value.expected == [key_id]
    assert not (tmp_path / "second" / "signing_key").exists()
    assert second.store.code_key_ids() == {key_id: 1}  # nothing stored, no run made
    assert second.runs() == []


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""For CLI checks whose store access other tests cover on both backends (each ``plait``
process costs seconds here)."""


@SQLITE_ONLY
def test_plait_run_without_the_key_exits_naming_it(connect: Connect, plait, tmp_path) -> None:
    elsewhere = connect("elsewhere")
    elsewhere.publish(adder())
    assert elsewhere.keyring.signer is not None
    flows = tmp_path / "flows.py"
    flows.write_text(
        textwrap.dedent(
            """
            import runtime as rt

            g = rt.Graph("cli_signed")

            @g.node
            def one() -> int:
                return 1
            """
        )
    )
    done = plait("run", f"{flows}:g")
    assert done.returncode == 1
    assert elsewhere.keyring.signer.key_id in done.stderr
    assert "PLAIT_SIGNING_KEY" in done.stderr
    assert not (tmp_path / "home" / "signing_key").exists()


# -- rotation ----------------------------------------------------------------------------------


def test_rotate_re_signs_and_old_and_new_runs_work(connect: Connect, plait, tmp_path: Path) -> None:
    before = connect()
    old_run = review("rotated_review").run().wait(10)
    assert old_run.status == "waiting"
    old_key = before.keyring.signer
    assert old_key is not None
    before.close()

    done = plait("signing", "rotate")
    assert done.returncode == 0, done.stderr
    stored = KeyFile(tmp_path / "home" / "signing_key").read()
    assert stored is not None
    new_key, retired = stored
    assert new_key.key_id != old_key.key_id
    assert [k.key_id for k in retired] == [old_key.key_id]  # the old key stays trusted
    assert new_key.text() not in done.stdout + done.stderr  # written, never printed

    after = connect()
    version = after.store.get_version(old_run.record.version_id)
    assert version.key_id == new_key.key_id == codesign.signer_of(version.code)
    resumed = after.get_run(old_run.id).resume("approve", ok=True).wait(10)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.outputs == {"verdict": "yes"}
    assert adder().run(x=1).wait(10).status == "succeeded"
    # a publisher that has not got the new key yet still publishes code that runs here
    laggard = connect("laggard", signing_key=old_key.text())
    late = laggard.publish(adder("late_adder"))
    assert fresh(after).load_graph(late.id).name == "late_adder"  # type: ignore[arg-type]
    assert plait("signing", "show").returncode == 0


def test_rotate_with_environment_keys_prints_the_new_key_once(
    connect: Connect, plait, tmp_path: Path
) -> None:
    old = SigningKey.generate()
    version = connect("publisher", signing_key=old.text()).publish(adder())
    done = plait("signing", "rotate", env={"PLAIT_SIGNING_KEY": old.text()})
    assert done.returncode == 0, done.stderr
    printed = dict(line.split("=", 1) for line in done.stdout.splitlines())
    new = SigningKey.parse(printed["PLAIT_SIGNING_KEY"], "stdout")
    assert printed["PLAIT_VERIFY_KEYS"] == f"{new.public.text()},{old.public.text()}"
    assert not (tmp_path / "home" / "signing_key").exists()  # environment keys: no file
    worker = connect("worker", verify_keys=printed["PLAIT_VERIFY_KEYS"])
    assert worker.store.get_version(version.id).key_id == new.key_id  # type: ignore[arg-type]
    assert worker.load_graph(version.id).name == "signed_adder"  # type: ignore[arg-type]
    with pytest.raises(UnknownSigningKey):
        connect("stale", verify_keys=old.public.text()).load_graph(version.id)  # type: ignore[arg-type]

    newer = SigningKey.generate()
    done = plait(
        "signing",
        "rotate",
        "--new-key",
        "-",
        env={"PLAIT_SIGNING_KEY": new.text()},
        stdin=newer.text() + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert "PLAIT_SIGNING_KEY" not in done.stdout  # the operator gave it: not echoed
    assert newer.text() not in done.stdout + done.stderr
    assert worker.store.get_version(version.id).key_id == newer.key_id  # type: ignore[arg-type]


def test_rotate_leaves_what_does_not_verify_and_says_so(
    connect: Connect, plait, tmp_path: Path
) -> None:
    client = connect()
    good = client.publish(adder())
    bad = client.publish(adder("tampered_adder"))
    assert client.keyring.signer is not None
    old_id = client.keyring.signer.key_id
    code = bytes(bad.code)
    client.store.replace_code(bad.id, code[:-1] + bytes([code[-1] ^ 1]), old_id)  # type: ignore[arg-type]

    done = plait("signing", "rotate")
    assert done.returncode == 1
    assert "tampered_adder" in done.stderr and "bad signature" in done.stderr
    assert client.store.get_version(bad.id).key_id == old_id  # type: ignore[arg-type]
    assert client.store.get_version(good.id).key_id != old_id  # type: ignore[arg-type]

    # a process that trusts none of the store's keys changes nothing at all
    stranger = {"PLAIT_HOME": str(tmp_path / "stranger")}
    done = plait("signing", "rotate", env=stranger)
    assert done.returncode == 1
    assert "nothing re-signed" in done.stderr
    assert not (tmp_path / "stranger" / "signing_key").exists()
    shown = plait("signing", "show", env=stranger)
    assert shown.returncode == 1 and "NOT trusted here" in shown.stdout


def test_hmac_era_version_is_refused_with_the_rotate_hint(
    connect: Connect, plait, tmp_path: Path
) -> None:
    client = connect()
    g = review("legacy_review")
    # how versions were stored before Ed25519: HMAC with PLAIT_SECRET_KEY, no key id
    legacy = client.store.publish(
        g.name, g.version, g.spec(), signing.dumps_signed(g, client.secret_key)
    )
    with pytest.raises(LegacySignature) as info:
        client.load_graph(legacy.id)  # type: ignore[arg-type]
    assert isinstance(info.value, UnknownSigningKey)  # fixable by configuration, not forged
    assert "plait signing rotate" in str(info.value)
    shown = plait("signing", "show")
    assert shown.returncode == 1 and "HMAC-era" in shown.stdout

    done = plait("signing", "rotate")
    assert done.returncode == 0, done.stderr
    assert "re-signing HMAC-era workflow 'legacy_review'" in done.stderr
    after = connect()
    run = after.start_version(legacy.id, {}).wait(10)  # type: ignore[arg-type]
    assert run.status == "waiting", run.error
    assert run.resume("approve", ok=False).wait(10).outputs == {"verdict": "no"}


def test_publish_re_signs_a_version_it_holds_the_graph_of(connect: Connect) -> None:
    g = adder()
    first = SigningKey.generate()
    old = connect("old", signing_key=first.text())
    assert old.start(g, {"x": 1}).wait(10).status == "succeeded"
    second = SigningKey.generate()
    new = connect("new", signing_key=second.text())  # does not trust the first key
    run = new.start(g, {"x": 2}).wait(10)
    assert run.status == "succeeded", run.error
    version = new.store.get_version(run.record.version_id)
    assert version.key_id == second.key_id
    assert fresh(new).load_graph(version.id).version == g.version  # type: ignore[arg-type]


@SQLITE_ONLY
def test_show_lists_keys_and_what_the_store_uses(connect: Connect, plait) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    connect("publisher", signing_key=key.text()).publish(adder())
    trusting = plait(
        "signing",
        "show",
        env={"PLAIT_VERIFY_KEYS": f" {other.public.text()} , {key.public.text()}"},
    )
    assert trusting.returncode == 0, trusting.stderr
    assert "public keys only" in trusting.stdout
    assert f"{key.key_id}  1 version(s)  trusted here" in trusting.stdout
    assert other.key_id in trusting.stdout
    distrusting = plait("signing", "show", env={"PLAIT_VERIFY_KEYS": other.public.text()})
    assert distrusting.returncode == 1
    assert f"{key.key_id}  1 version(s)  NOT trusted here" in distrusting.stdout
    signer = plait("signing", "show", env={"PLAIT_SIGNING_KEY": key.text()})
    assert key.public.text() in signer.stdout and key.text() not in signer.stdout


# -- a key this process lacks leaves runs recoverable ---------------------------------------------


@SQLITE_ONLY
def test_a_run_whose_signing_key_is_missing_here_is_recovered_once_the_key_is_given(
    connect: Connect, plait, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    publisher = connect("publisher", signing_key=key.text())
    version = publisher.publish(adder("keyed_adder"))
    secret = publisher.secret_key.decode()

    stranger_key = SigningKey.generate().public.text()
    stranger = connect("stranger", verify_keys=stranger_key, secret_key=secret)
    run = stranger.start_version(version.id, {"x": 1})  # type: ignore[arg-type]
    until = time.monotonic() + 20
    while stranger.store.get_run(run.id).error is None:
        assert time.monotonic() < until, "the pass did not give the run up"
        time.sleep(0.02)
    record = stranger.store.get_run(run.id)
    assert record.status != "failed" and record.lease_owner is None  # recoverable
    assert "UnknownSigningKey" in (record.error or "") and key.key_id in (record.error or "")
    assert all(n.status != "running" for n in stranger.get_run(run.id).nodes.values())

    env = {"PLAIT_SECRET_KEY": secret}
    wrong = plait("recover", env={**env, "PLAIT_VERIFY_KEYS": stranger_key})
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "stalled" in wrong.stdout and key.key_id in wrong.stdout
    right = plait("recover", env={**env, "PLAIT_VERIFY_KEYS": key.public.text()})
    assert right.returncode == 0, right.stdout + right.stderr
    finished = stranger.get_run(run.id)
    assert finished.status == "succeeded" and finished.outputs == {"total": 2}
    assert finished.record.error is None


def test_a_run_of_tampered_code_fails_without_executing_it(
    connect: Connect, tmp_path: Path
) -> None:
    effect = tmp_path / "tampered code ran"
    key = SigningKey.generate()
    publisher = connect("publisher", signing_key=key.text())
    version = publisher.publish(adder("tampered_adder"))
    forged = bytes(version.code)[: codesign.HEADER_SIZE] + pickle.dumps(Effect(effect))
    publisher.store.replace_code(version.id, forged, key.key_id)  # type: ignore[arg-type]
    verifier = connect(
        "verifier", verify_keys=key.public.text(), secret_key=publisher.secret_key.decode()
    )
    run = verifier.start_version(version.id, {"x": 1}).wait(20)  # type: ignore[arg-type]
    assert run.status == "failed" and "TamperedCode" in (run.error or "")
    assert not effect.exists()
