"""The graphs the API fuzzer's server runs: importable there, so their code travels by
reference."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

import runtime as rt

log = logging.getLogger("tests.chaos.api_flows")

review = rt.Graph("fuzz_review", description="Prepare, a typed human answer, publish.")


@review.node
def prepare(topic: str = "owls", api_key: str = "sk-fuzz-default-key") -> dict:
    rt.current().log(f"preparing {topic}")
    log.info("connecting with password=%s", "fuzz-pass-123")
    return {"topic": topic, "items": [1, 2, 3]}


review.wait(
    "approve",
    {
        "ok": bool,
        "amount": (int, 1),
        "level": (Literal["low", "high"], "low"),
        "due": (dt.date | None, None),
        "comment": (str, ""),
    },
    after=["prepare"],
)


@review.node
def publish(prepare: dict, approve: dict) -> dict:
    return {"topic": prepare["topic"], "ok": approve["ok"], "amount": approve["amount"]}


broken = rt.Graph("fuzz_broken", description="Fails at once.")


@broken.node
def explode(token: str = "tok-fuzz-999") -> None:
    raise RuntimeError("the fuzzer's node failed on purpose")
