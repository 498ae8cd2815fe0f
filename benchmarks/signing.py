"""Code-signing benchmark: prints the cost of signing and verifying a version's code with
Ed25519 (what publishers and loaders now pay) next to the HMAC-SHA256 it replaces, for graphs
pickled by value of a few sizes, and the cold ``load_graph`` of a version from SQLite.

    uv run python benchmarks/signing.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cloudpickle

import runtime as rt
from runtime import codesign, signing
from runtime.keys import Keyring, SigningKey, TrustedKey


def graph(nodes: int, padding: int) -> rt.Graph:
    """A chain of nodes defined here (so pickled by value), each carrying ``padding`` bytes
    of constants, as notebook code with embedded data does."""
    g = rt.Graph(f"bench_{nodes}_{padding}")
    blob = "x" * padding
    g.add("n0", lambda x: x + len(blob))
    for i in range(1, nodes):
        g.add(f"n{i}", lambda v, blob=blob: v + len(blob), inputs={"v": f"n{i - 1}"})
    return g


def per_call(fn: Callable[[], object], repeat: int) -> float:
    """Median microseconds of one call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    key = SigningKey.generate()
    keyring = Keyring(None, [TrustedKey(key.public, "bench")])
    secret = b"k" * 32
    bound = codesign.subject("bench", "v1")
    print(f"{'payload':>10}  {'ed25519 sign':>13}  {'verify':>9}  {'hmac sign':>10}  {'verify':>9}")
    for nodes, padding in ((5, 0), (50, 1_000), (50, 100_000), (20, 1_000_000)):
        payload = cloudpickle.dumps(graph(nodes, padding))
        blob = codesign.sign(payload, key, bound)
        hmac_blob = signing.sign(payload, secret)
        figures = [
            per_call(lambda p=payload: codesign.sign(p, key, bound), args.repeat),
            per_call(lambda b=blob: codesign.verify(b, keyring, bound, what="x"), args.repeat),
            per_call(lambda p=payload: signing.sign(p, secret), args.repeat),
            per_call(lambda b=hmac_blob: signing.verify(b, secret), args.repeat),
        ]
        size = f"{len(payload) / 1024:.1f} KB"
        widths = (10, 6, 7, 6)
        cells = [f"{f:>{w}.1f} µs" for f, w in zip(figures, widths, strict=True)]
        print(f"{size:>10}  " + "  ".join(cells))

    with tempfile.TemporaryDirectory() as tmp:
        client = rt.connect(f"sqlite:///{Path(tmp) / 'plait.db'}", home=Path(tmp))
        version = client.publish(graph(50, 1_000))

        def cold_load() -> None:
            client._graphs.clear()
            client.load_graph(version.id)  # type: ignore[arg-type]

        print(f"cold load_graph of a 50-node version (SQLite): {per_call(cold_load, 50):.0f} µs")
        client.close()


if __name__ == "__main__":
    main()
