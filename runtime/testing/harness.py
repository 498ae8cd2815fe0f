"""``Kit``: a temporary store with in-process execution, and the loop that drives a test run
to its end: answering waits from scripted answers and passing time on the test clock."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import clock as runtime_clock
from runtime.errors import PlaitError
from runtime.statuses import RUN_FINISHED, RUN_STOPPED
from runtime.testing.clock import Clock
from runtime.testing.fakes import faked
from runtime.testing.result import Result

if TYPE_CHECKING:
    from runtime.client import Client, Run
    from runtime.graph import Graph


class _NoAnswer:
    def __repr__(self) -> str:
        return "rt.testing.NO_ANSWER"


NO_ANSWER: Any = _NoAnswer()
"""``answers={"sign_off": NO_ANSWER}``: leave that wait unanswered, so it times out (taking its
default or failing) when the clock passes its timeout."""


class UnexpectedWait(AssertionError):
    """A run waits for a person and the test gave no answer for that wait."""

    def __init__(self, run_id: str, wait: str, schema: dict[str, Any], answers: Sequence[str]):
        self.wait, self.schema = wait, schema
        given = ", ".join(map(repr, answers)) or "none"
        super().__init__(
            f"run {run_id} is waiting for {wait!r}, and the test gave no answer for it "
            f"(answers given: {given}). Its payload schema:\n"
            f"{json.dumps(schema, indent=2, sort_keys=True, default=str)}\n"
            f"Answer it with answers={{{wait!r}: {{...}}}}, or answers={{{wait!r}: "
            "rt.testing.NO_ANSWER} to let it time out."
        )


class RunStuck(AssertionError):
    """A test run that neither ends nor stops where a test can move it on."""


class Kit:
    """A throwaway store (SQLite in a temporary directory, or ``database_url``) with
    in-process execution; ``run`` drives graphs on it. ``close`` removes it."""

    def __init__(self, home: str | Path | None = None, *, database_url: str | None = None):
        from runtime.client import Client
        from runtime.config import Settings

        self._owned = home is None
        self.home = Path(tempfile.mkdtemp(prefix="plait-test-") if home is None else home)
        self.home.mkdir(parents=True, exist_ok=True)
        url = database_url or f"sqlite:///{self.home / 'plait.db'}"
        # embedded whatever the environment says: a test runs here, not on a team's workers
        settings = Settings(database_url=url, home=self.home, redis_url=None, api_url=None)
        self.client: Client = Client(settings)
        # the driver queues parked runs when the test clock passes their wake time; the
        # client's own helper would wake them by the system's time (a clock started in the
        # past would see every sleep due at once)
        self.client.engine.on_park = None

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        if self._owned:
            shutil.rmtree(self.home, ignore_errors=True)

    def run(
        self,
        graph: Graph,
        inputs: Mapping[str, Any] | None = None,
        *,
        answers: Mapping[str, Any] | None = None,
        fakes: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        outputs: Sequence[str] | None = None,
        timeout: float = 60.0,
    ) -> Result:
        """Run ``graph`` with ``inputs`` until it ends (or, on a clock with ``auto=False``,
        stops on a sleep or a wait's timeout): waits are answered from ``answers`` (wait
        name -> payload), ``fakes`` replace nodes by name (a value, a function called with
        the inputs it names, a runnable or a fake chat model), and time is ``clock``'s
        (a new ``Clock()`` when omitted). ``timeout``: real seconds a run may take between
        stops before ``RunStuck``."""
        answers = dict(answers or {})
        waits = [n for n, node in graph.nodes.items() if node.kind_impl.parks == "waiting"]
        unknown = [name for name in answers if name not in waits]
        if unknown:
            raise PlaitError(
                f"answers name no wait node of graph {graph.name!r}: "
                f"{', '.join(map(repr, unknown))} (wait nodes: {', '.join(waits) or 'none'})"
            )
        clock = clock or Clock()
        tested = faked(graph, fakes or {})
        driver = _Driver(self.client, clock, answers, timeout)
        # one block: the run's first pass starts at once, on the engine's threads
        with runtime_clock.installed(clock):
            run = self.client.start(tested, dict(inputs or {}), outputs=outputs)
            driver.drive(run)
        return Result(run, clock)


class _Driver:
    def __init__(self, client: Client, clock: Clock, answers: dict[str, Any], timeout: float):
        self.client, self.clock, self.answers, self.timeout = client, clock, answers, timeout
        self.run: Run | None = None
        self._driving = threading.Lock()

    def drive(self, run: Run) -> None:
        self.run = run
        self.clock._forget(self._continue)
        with self._driving, runtime_clock.installed(self.clock):
            while True:
                status = self._stopped(run)
                if status in RUN_FINISHED:
                    return
                if status == "waiting" and self._answer(run):
                    continue
                wake_at = run.record.wake_at
                if wake_at is None:
                    raise RunStuck(f"run {run.id} is {status} and nothing will move it on")
                if not self.clock.auto:
                    self.clock._listen(self._continue)  # ``clock.advance`` goes on from here
                    return
                self.clock.move_to(wake_at)
                self._release()

    def _continue(self) -> None:
        """After ``clock.advance``: queue what is due now and drive on (not from inside a
        node of the run being driven, which advanced the clock itself)."""
        if self.run is None or not self._driving.acquire(blocking=False):
            return
        self._driving.release()
        with runtime_clock.installed(self.clock):
            self._release()
            self.drive(self.run)

    def _release(self) -> None:
        for run_id, events in self.client.store.release_due(self.clock.now()):
            self.client.queued(run_id, events)

    def _answer(self, run: Run) -> bool:
        """Answer the waits the test has answers for; ``UnexpectedWait`` for one it has
        none for. Whether any was answered (else the run waits on the clock)."""
        waiting = run.waiting
        for name, schema in waiting.items():
            if name not in self.answers:
                raise UnexpectedWait(run.id, name, schema, list(self.answers))
        given = {n: self.answers[n] for n in waiting if self.answers[n] is not NO_ANSWER}
        for name, payload in given.items():
            run.resume(name, payload)
        return bool(given)

    def _stopped(self, run: Run) -> str:
        """Block until the run ends or parks; its status then."""
        rung = threading.Event()
        unsubscribe = self.client.subscribe(run.id, lambda batch: rung.set())
        deadline = time.monotonic() + self.timeout  # real time: how long the test may take
        try:
            while True:
                rung.clear()
                status = run.status
                if status in RUN_STOPPED:
                    return status
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RunStuck(
                        f"run {run.id} is still {status} after {self.timeout:g}s of real time"
                    )
                # the bus rings on each event; the cap covers writers it cannot hear
                rung.wait(min(left, 1.0))
        finally:
            unsubscribe()


def run(
    graph: Graph,
    inputs: Mapping[str, Any] | None = None,
    *,
    answers: Mapping[str, Any] | None = None,
    fakes: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
    outputs: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> Result:
    """``Kit().run(...)`` on a store of its own (see ``Kit.run``); the store lives as long as
    the process, so the result can still be read (the ``plait`` pytest fixture removes its
    store after each test)."""
    return _shared_kit().run(
        graph,
        inputs,
        answers=answers,
        fakes=fakes,
        clock=clock,
        outputs=outputs,
        timeout=timeout,
    )


_kit: Kit | None = None
_kit_lock = threading.Lock()


def _shared_kit() -> Kit:
    global _kit
    with _kit_lock:
        if _kit is None:
            import atexit

            _kit = Kit()
            atexit.register(_kit.close)
        return _kit
