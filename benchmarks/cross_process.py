"""Events of a run in another process on the same embedded store (SQLite under PLAIT_HOME, no
Redis), as the studio sees them: another process runs a chain of nodes finishing ``--pause``
apart, and this one follows the run the way the run page does (``Run.aevents``). Prints, per
local bus:

- ``sockets`` (the default): node finished (the event's ``at`` stamp, written in the other
  process) -> the follower has the event, p50/p95/max;
- ``process`` (``PLAIT_LOCAL_BUS=process``, the behaviour before the socket bus): the same,
  when the follower learns only by re-reading the table each second;
- the raw floor measured in the same run: a bare UNIX datagram from another process, stamped
  before ``send`` and read by a blocking ``recv`` here, p50/p95; and the ratios to it.

Both processes stamp with ``time.time()``: the same machine clock.

    uv run python benchmarks/cross_process.py [--nodes 100] [--pause 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt

ROOT = Path(__file__).resolve().parent.parent

RUNNER = textwrap.dedent(
    """
    import sys
    import runtime as rt
    from tests.studio import flows

    nodes, pause, gate = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    client = rt.connect()
    graph = flows.gated_chain("cross_process", nodes)
    run = client.start(graph, {"gate_file": gate, "pause": pause})
    print(run.id, flush=True)
    assert run.wait(600).status == "succeeded", run.error
    client.close()
    """
)

SENDER = textwrap.dedent(
    """
    import socket, sys, time
    address, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.connect(address)
    for _ in range(count):
        time.sleep(pause)
        sock.send(repr(time.time()).encode())
    sock.send(b"")
    """
)


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def env(home: Path, local_bus: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")},
        "PLAIT_HOME": str(home),
        "PLAIT_DATABASE_URL": f"sqlite:///{home / 'plait.db'}",
        "PLAIT_LOCAL_BUS": local_bus,
        "PYTHONPATH": str(ROOT),
    }


async def follow(client: rt.Client, run_id: str, gate: Path) -> list[float]:
    """ms from each node's ``node.succeeded`` (written in the other process) to here."""
    latencies: list[float] = []
    async for event in client.get_run(run_id).aevents():
        gate.touch()  # following: the other process's nodes may run now
        if event["type"] == "node.succeeded" and event["node"] != "start":
            latencies.append((time.time() - event["at"]) * 1000)
    return latencies


def cross_process(local_bus: str, nodes: int, pause: float) -> list[float]:
    home = Path(tempfile.mkdtemp())
    client = rt.connect(
        f"sqlite:///{home / 'plait.db'}", home=home, local_bus=local_bus, redis_url=None
    )
    gate = home / "gate"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(nodes), str(pause), str(gate)],
        env=env(home, local_bus),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert runner.stdout is not None
        run_id = runner.stdout.readline().strip()
        latencies = asyncio.run(follow(client, run_id, gate))
        assert runner.wait(600) == 0
    finally:
        runner.kill()
        client.close()
    assert len(latencies) == nodes, (len(latencies), nodes)
    return latencies


def datagram_floor(count: int, pause: float) -> list[float]:
    """ms from a bare ``send`` in another process to ``recv`` returning here."""
    directory = Path(tempfile.mkdtemp())
    inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    inbox.bind(str(directory / "floor.sock"))
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(directory / "floor.sock"), str(count), str(pause)]
    )
    latencies = []
    while datagram := inbox.recv(64):
        latencies.append((time.time() - float(datagram)) * 1000)
    sender.wait()
    inbox.close()
    return latencies


def report(label: str, values: list[float], floor: float | None = None) -> None:
    ratio = f"; p50 {pct(values, 50) / floor:.0f}x the floor" if floor else ""
    print(
        f"{label}: p50 {pct(values, 50):.2f} ms, p95 {pct(values, 95):.2f} ms, "
        f"max {max(values):.2f} ms over {len(values)}{ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.02)
    args = parser.parse_args()
    floor = datagram_floor(args.nodes, args.pause)
    report("raw floor: UNIX datagram, another process -> recv", floor)
    base = pct(floor, 50)
    for local_bus in ("sockets", "process"):
        latencies = cross_process(local_bus, args.nodes, args.pause)
        report(
            f"local_bus={local_bus}: node finished in another process -> follower has it",
            latencies,
            base,
        )


if __name__ == "__main__":
    main()
