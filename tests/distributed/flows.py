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
