"""Graphs of the chaos suite. Every node writes its execution to the ledger
(``tests/chaos/ledger.py``): a row when its code starts, its end when the code returns. Their
functions live at module level, so workers load them by reference."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import psycopg

import runtime as rt

_local = threading.local()


def _conn(dsn: str) -> psycopg.Connection:
    """One ledger connection per thread (and per process: a forked copy is not reused)."""
    held = getattr(_local, "conn", None)
    if held is None or held[0] != os.getpid() or held[1].closed:
        held = (os.getpid(), psycopg.connect(dsn, autocommit=True))
        _local.conn = held
    return held[1]


def begin(ledger: str) -> int:
    ctx = rt.current()
    row = (
        _conn(ledger)
        .execute(
            "INSERT INTO chaos_effect (run_id, node, attempt, pid) VALUES (%s, %s, %s, %s) "
            "RETURNING id",
            (ctx.run_id, ctx.node, ctx.attempt, os.getpid()),
        )
        .fetchone()
    )
    assert row is not None
    return row[0]


def end(ledger: str, row: int) -> None:
    _conn(ledger).execute(
        "UPDATE chaos_effect SET ended_at = clock_timestamp() WHERE id = %s", (row,)
    )


def work(ledger: str, seconds: float, value: int) -> int:
    row = begin(ledger)
    if seconds:
        time.sleep(seconds)
    end(ledger, row)
    return value


# -- quick: a diamond and a chain of very short nodes (commits every few ms) ----------------

quick = rt.Graph("chaos_quick")


@quick.node
def q_src(ledger: str) -> int:
    return work(ledger, 0.0, 1)


@quick.node
def q_left(q_src: int, ledger: str) -> int:
    return work(ledger, 0.0, q_src + 1)


@quick.node
def q_right(q_src: int, ledger: str) -> int:
    return work(ledger, 0.0, q_src + 2)


@quick.node
def q_join(q_left: int, q_right: int, ledger: str) -> int:
    return work(ledger, 0.0, q_left * q_right)


@quick.node
def q_c1(q_join: int, ledger: str) -> int:
    return work(ledger, 0.0, q_join + 1)


@quick.node
def q_c2(q_c1: int, ledger: str) -> int:
    return work(ledger, 0.0, q_c1 * 2)


QUICK_OUTPUTS = {"q_c2": ((1 + 1) * (1 + 2) + 1) * 2}


# -- steady: a chain of nodes that take a while (killed mid-node) ---------------------------

steady = rt.Graph("chaos_steady")


@steady.node
def s_one(ledger: str, pause: float = 0.1) -> int:
    return work(ledger, pause, 1)


@steady.node
def s_two(s_one: int, ledger: str, pause: float = 0.1) -> int:
    return work(ledger, pause, s_one + 1)


@steady.node
def s_three(s_two: int, ledger: str, pause: float = 0.1) -> int:
    return work(ledger, pause, s_two * 10)


STEADY_OUTPUTS = {"s_three": 20}


# -- hog: an async node that blocks its process's event loop -------------------------------

hog = rt.Graph("chaos_hog")


@hog.node
async def h_block(ledger: str, seconds: float) -> int:
    row = begin(ledger)
    time.sleep(seconds)  # on the event loop: every other pass of the process stalls too
    end(ledger, row)
    await asyncio.sleep(0)
    return 1


@hog.node
def h_after(h_block: int, ledger: str) -> int:
    return work(ledger, 0.0, h_block + 1)


HOG_OUTPUTS = {"h_after": 2}


# -- poison: a node that kills the process running it ----------------------------------------


def _exit(ledger: str) -> int:
    begin(ledger)
    # the ledger learns when this process was dead at the latest, as for the test's kills
    _conn(ledger).execute(
        "INSERT INTO chaos_kill (pid, at) VALUES (%s, clock_timestamp() + interval '50 ms')",
        (os.getpid(),),
    )
    os._exit(3)


poison = rt.Graph("chaos_poison")
poison.add("p_before", s_one)
poison.add("p_exit", _exit, after=["p_before"])

poison_isolated = rt.Graph("chaos_poison_isolated", isolation="process")
poison_isolated.add("p_before", s_one)
poison_isolated.add("p_exit", _exit, after=["p_before"])


# -- overtime: a node over its timeout, with side effects while it goes on ----------------


def _tick(ledger: str, ticks: int) -> int:
    """A side effect every 50 ms; the first attempt takes far longer than the timeout."""
    row = begin(ledger)
    for _ in range(ticks if rt.current().attempt == 1 else 1):
        _conn(ledger).execute(
            "INSERT INTO chaos_effect (run_id, node, attempt, pid, ended_at) "
            "VALUES (%s, '~tick', %s, %s, clock_timestamp())",
            (rt.current().run_id, rt.current().attempt, os.getpid()),
        )
        time.sleep(0.05)
    end(ledger, row)
    return rt.current().attempt


overtime = rt.Graph("chaos_overtime")
overtime.add("o_tick", _tick, timeout=2.0, retries=1, backoff=0)

overtime_isolated = rt.Graph("chaos_overtime_isolated", isolation="process")
overtime_isolated.add("o_tick", _tick, timeout=2.0, retries=1, backoff=0)

OVERTIME_OUTPUTS = {"o_tick": 2}
