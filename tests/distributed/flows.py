"""Graphs the distributed tests run; importable by workers (they travel by reference)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import runtime as rt

review = rt.Graph("dist_review")


@review.node
def draft(topic: str) -> dict:
    return {"text": f"about {topic}", "pid": os.getpid()}


review.wait("approve", {"ok": bool}, after=["draft"])


@review.node
def final(draft: dict, approve: dict) -> dict:
    return {"text": draft["text"] if approve["ok"] else "rejected", "pid": os.getpid()}


slow = rt.Graph("dist_slow")


@slow.node
async def forever(marker: str) -> None:
    Path(marker).touch()
    await asyncio.sleep(3600)


effects = rt.Graph("dist_effects")


@effects.node
def touch(path: str) -> str:
    Path(path).write_text("executed")
    return "done"


keys_seen = rt.Graph("dist_keys_seen")


@keys_seen.node
def seen() -> dict:
    """Everything node code on a worker can read that could hold a key."""
    import gc

    from runtime.config import settings
    from runtime.keys import SigningKey

    config = settings()
    home = Path(config.home)
    return {
        "pid": os.getpid(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("PLAIT_")},
        "proc_environ": Path("/proc/self/environ").read_bytes().decode(errors="replace"),
        "signing_key": None if config.signing_key is None else "set",
        "verify_keys": list(config.verify_keys),
        "home_files": sorted(p.name for p in home.rglob("*")) if home.exists() else [],
        "signing_keys_in_memory": sum(isinstance(o, SigningKey) for o in gc.get_objects()),
    }


forge = rt.Graph("dist_forge")


@forge.node
def forged() -> dict:
    """Node code trying to get code of its own accepted by every worker: it builds a graph
    whose node writes a marker, and stores it as new versions signed every way it can."""
    from runtime import codesign, signing
    from runtime.config import settings
    from runtime.errors import PlaitError
    from runtime.keys import SigningKey, VerifyKey
    from runtime.store import open_store

    evil = rt.Graph("dist_evil")

    @evil.node
    def pwn(marker: str) -> str:
        Path(marker).write_text("forged code ran")
        return "pwned"

    config = settings()
    payload = __import__("cloudpickle").dumps(evil)
    store = open_store(config.resolved_database_url())
    forged_ids: dict[str, int] = {}
    errors: dict[str, str] = {}

    def store_as(label: str, code: bytes, key_id: str | None) -> None:
        version = store.publish(evil.name, f"forged-{label}", evil.spec(), code, key_id)
        forged_ids[label] = version.id  # type: ignore[assignment]

    client = rt.connect()
    try:
        client.publish(evil)  # the SDK, as any caller would
    except PlaitError as exc:
        errors["publish"] = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    values = [v for k, v in os.environ.items() if k.startswith("PLAIT_")]
    values += [str(v) for v in config.model_dump().values() if v]
    values += [config.secret_key.get_secret_value()] if config.secret_key else []
    values += [str(k) for k in config.verify_keys]
    candidates = sorted({part.strip() for v in values for part in v.split(",") if part.strip()})
    for number, text in enumerate(candidates):
        try:
            key = SigningKey.parse(text, "candidate")
        except PlaitError:
            pass
        else:  # a private key was readable: sign with it
            bound = codesign.subject(evil.name, f"forged-key-{number}")
            store_as(f"key-{number}", codesign.sign(payload, key, bound), key.key_id)
        # the retired scheme, with every secret there is
        store_as(f"hmac-{number}", signing.sign(payload, text.encode()), None)
    # a key of its own, under its own id and under the id of the key workers trust
    own = SigningKey.generate()
    store_as(
        "own", codesign.sign(payload, own, codesign.subject(evil.name, "forged-own")), own.key_id
    )
    trusted = VerifyKey.parse(config.verify_keys[0], "verify key")
    bound = codesign.subject(evil.name, "forged-posing")
    posing = codesign.sign(payload, own, bound)
    posing = codesign.MAGIC + trusted.key_id.encode() + posing[len(codesign.MAGIC) + 16 :]
    store_as("posing", posing, trusted.key_id)
    store.dispose()
    return {"versions": forged_ids, "errors": errors}


limited = rt.Graph("dist_limited")


@limited.node
def hold(gate: str, label: int) -> int:
    """Runs until the gate file exists (a slot held for as long as the test says)."""
    import time

    while not Path(gate).exists():
        time.sleep(0.02)
    time.sleep(0.05)
    return label


napper = rt.Graph("dist_napper")


@napper.node
def before() -> int:
    return os.getpid()


napper.sleep("nap", seconds=2, after=["before"])


@napper.node
def after(before: int, nap: object) -> dict:
    return {"before": before, "after": os.getpid()}


napper.wait("confirm", {"ok": bool}, timeout=1, default={"ok": False}, after=["after"])
