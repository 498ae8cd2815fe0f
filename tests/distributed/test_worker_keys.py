"""Workers hold public keys only: they run code that callers signed, and node code running on
them finds no private key and cannot get code of its own accepted by any worker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import runtime as rt
from runtime.keys import SigningKey
from tests.distributed import flows
from tests.workers import Cluster, wait_for


def test_workers_run_signed_code_holding_only_the_public_key(
    dist: Cluster, dist_client: rt.Client
) -> None:
    run = dist_client.start(flows.keys_seen, {}).wait(30)
    assert run.status == "succeeded", run.error
    seen = run.outputs["seen"]
    assert seen["pid"] != os.getpid()  # a worker ran it
    private = dist.signing_key
    assert "PLAIT_SIGNING_KEY" not in seen["env"]
    assert not [name for name, value in seen["env"].items() if private in value]
    assert private not in seen["proc_environ"]
    assert seen["signing_key"] is None
    assert seen["verify_keys"] == [dist.verify_key]
    assert "signing_key" not in seen["home_files"]
    assert seen["signing_keys_in_memory"] == 0
    version = dist_client.store.get_version(run.record.version_id)
    assert version.key_id == SigningKey.parse(private, "cluster").key_id
    log = dist.workers[0].log.read_text()  # type: ignore[attr-defined]
    assert "private signing key" not in log and "trusts no signing key" not in log


def test_node_code_on_a_worker_cannot_forge_code_workers_accept(
    dist: Cluster, dist_client: rt.Client, tmp_path: Path
) -> None:
    run = dist_client.start(flows.forge, {}).wait(60)
    assert run.status == "succeeded", run.error
    attempt = run.outputs["forged"]
    assert attempt["errors"]["publish"].startswith("MissingSigningKey")
    versions = attempt["versions"]
    assert not [label for label in versions if label.startswith("key-")]  # no private key found
    assert {"own", "posing"} <= set(versions) and any(k.startswith("hmac-") for k in versions)

    dist.start_worker(processes=1)  # another worker, which did not run the forger
    expected = {"own": "UnknownSigningKey", "posing": "TamperedCode"}
    for label, version_id in versions.items():
        marker = tmp_path / f"{label}.ran"
        forged = dist_client.start_version(version_id, {"marker": str(marker)})
        kind = expected.get(label, "LegacySignature")
        if kind == "TamperedCode":  # forged bytes: the run fails, saying why
            assert forged.wait(30).status == "failed", label
            record = forged.record
        else:  # a key this worker lacks: the run waits for a process that has it
            # one snapshot: another worker's next try clears the error until it stalls again
            seen: list[Any] = []
            wait_for(
                lambda r=forged, seen=seen: (seen.append(r.record) or seen[-1].error) is not None,
                message=f"{label} stalled",
            )
            record = seen[-1]
            assert record.status == "running" and record.lease_owner is None, label
        assert kind in (record.error or ""), record.error
        assert not marker.exists(), f"forged version {label!r} ran"
        assert forged.nodes["pwn"].status == "pending"
