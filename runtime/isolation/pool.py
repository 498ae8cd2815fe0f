"""The pool of child processes that run node attempts."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime import codecs
from runtime.errors import PlaitError
from runtime.isolation.environment import child_environment, protect_parent
from runtime.isolation.job import (
    PICKLE_UNSIGNED,
    AttemptTimeout,
    ChildDied,
    Job,
    Outcome,
    PoolClosed,
    ProtocolError,
)
from runtime.isolation.process import ChildProcess, Exited
from runtime.isolation.protocol import MAX_TEXT, Header

log = logging.getLogger("plait.isolation")

DocumentSink = Callable[[str, str, codecs.Encoded], Awaitable[None] | None]
"""Called with a document's name, kind and encoded content when the node saves one."""


@dataclass(frozen=True)
class PoolState:
    """The pool's children by state, as process ids."""

    spares: tuple[int, ...]
    """Started ahead, for any key."""
    idle: tuple[tuple[str, int], ...]
    """``(key, pid)``: warm for later jobs of their key, least recently used first."""
    busy: tuple[int, ...]


class ProcessPool:
    """Runs jobs in child processes, each child one job at a time.

    ``spares`` children are started ahead (now, and whenever one is taken), so an attempt does
    not wait for an interpreter to start and import. A child is reused for later jobs of the
    same key (imports stay warm) up to ``max_jobs_per_child``, never for another key; at most
    ``max_idle`` children wait for reuse, the least recently used are retired. A child whose
    job timed out or was cancelled is killed, with its process group. ``env`` is what children
    start with (default: this process's environment then) before Plait's keys and database
    and Redis credentials are removed; ``preload`` modules are imported before a child says it
    is ready. ``protect`` makes this process non-dumpable first (``protect_parent``), so that
    node code running as the same user cannot read the keys in its environment or memory
    through ``/proc``. A pool serves one event loop; ``close`` may be called from any thread.
    """

    def __init__(
        self,
        *,
        spares: int = 1,
        max_children: int = 64,
        max_jobs_per_child: int = 100,
        max_idle: int = 4,
        env: Mapping[str, str] | None = None,
        preload: Sequence[str] = (),
        protect: bool = True,
    ) -> None:
        for name, value, least in (
            ("spares", spares, 0),
            ("max_children", max_children, 1),
            ("max_jobs_per_child", max_jobs_per_child, 1),
            ("max_idle", max_idle, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(
                    f"ProcessPool({name}=...) must be an integer >= {least}, not {value!r}"
                )
        if isinstance(preload, str):
            raise ValueError("ProcessPool(preload=...) is a sequence of module names, not a string")
        self.spares = spares
        self.max_children = max_children
        self.max_jobs_per_child = max_jobs_per_child
        self.max_idle = max_idle
        self._env = None if env is None else dict(env)
        self._preload = tuple(preload)
        self._spares: list[ChildProcess] = []
        self._idle: list[ChildProcess] = []
        """Least recently used first."""
        self._busy: set[ChildProcess] = set()
        self._starting: set[asyncio.Future[ChildProcess]] = set()
        """Children being started (in threads) to become spares."""
        self._waiters: list[asyncio.Future[None]] = []
        """Jobs waiting for a child."""
        self._closed = False
        if protect:
            protect_parent()
        self._top_up()

    # -- running jobs -----------------------------------------------------------------------

    async def run(
        self, job: Job, on_document: DocumentSink, on_started: Callable[[], object] | None = None
    ) -> Outcome:
        """Run the job in a child. Raises ``AttemptTimeout`` (a ``TimeoutError``) after killing
        the child when ``job.timeout`` passes, ``ChildDied`` when the child dies, and
        ``PoolClosed``; cancelling the awaiting task kills the child, so its side effects stop.
        ``on_started`` is called once the child has loaded the code and calls it.
        """
        child = await self._acquire(job.key)
        logs: list[str] = []
        sent = False
        deadline = asyncio.timeout(job.timeout)
        try:
            async with deadline:
                sent = True
                await child.send(
                    {
                        "type": "job",
                        "context": dict(job.context),
                        "allow_pickle": job.allow_pickle,
                        "log_level": logging.getLogger().getEffectiveLevel(),
                    },
                    job.call,
                )
                outcome = await self._converse(child, job, on_document, logs, on_started)
        except TimeoutError:
            if not deadline.expired():
                self._discard(child)
                raise
            await self._bury(child)
            assert job.timeout is not None
            raise AttemptTimeout(job.timeout, logs=logs) from None
        except Exited:
            returncode = await self._bury(child)
            if self._closed:
                raise PoolClosed("the process pool was closed while the attempt ran") from None
            raise ChildDied.from_returncode(returncode, logs=logs) from None
        except ProtocolError as exc:
            await self._bury(child)
            exc.logs = logs
            raise
        except BaseException:
            if sent:
                self._discard(child)  # cancelled mid-attempt: stop what it does
            else:
                self._give_back(child)
            raise
        self._release(child)
        return outcome

    async def _converse(
        self,
        child: ChildProcess,
        job: Job,
        on_document: DocumentSink,
        logs: list[str],
        on_started: Callable[[], object] | None,
    ) -> Outcome:
        while True:
            header, body = await child.receive()
            kind = header["type"]
            if kind == "started":
                if on_started is not None:
                    on_started()
            elif kind == "log":
                logs.append(_text(header, "line"))
            elif kind == "document":
                await self._document(child, header, body, on_document)
            elif kind == "result":
                return _outcome(header, body, job, logs, child.pid)
            else:
                raise ProtocolError(f"an unexpected {kind!r} message")

    async def _document(
        self, child: ChildProcess, header: Header, body: bytes, on_document: DocumentSink
    ) -> None:
        name = _text(header, "name", limit=1000)
        kind = _text(header, "kind", limit=100)
        codec = _text(header, "codec", limit=100)
        if codec not in codecs.SAFE_CODEC_NAMES:
            raise ProtocolError(f"a document in codec {codec!r}")
        try:
            stored = on_document(name, kind, codecs.Encoded(codec, body))
            if inspect.isawaitable(stored):
                await stored
        except Exception as exc:
            # the node learns what a user can act on; details of the store stay out of its reach
            log.warning("document %r of pid %s was not stored: %r", name, child.pid, exc)
            error = (
                str(exc)
                if isinstance(exc, PlaitError)
                else f"document {name!r} could not be stored ({type(exc).__name__})"
            )
            await child.send({"type": "document_failed", "error": error})
        else:
            await child.send({"type": "document_saved"})

    # -- children ---------------------------------------------------------------------------

    async def _acquire(self, key: str) -> ChildProcess:
        """A ready child for ``key``: a warm one of that key, a spare, or a new one."""
        for chance in (1, 2):
            started: asyncio.Future[ChildProcess] | None = None
            while (child := self._pick(key)) is None:
                if started is not None and started.done():
                    if (error := started.exception()) is not None:
                        raise PlaitError(f"cannot start a child process: {error}") from error
                    started = None  # another job took it
                if started is None:
                    if self._count() >= self.max_children and self._idle:
                        self._retire(self._idle.pop(0))  # room for this key at another's expense
                    if self._count() < self.max_children:
                        started = self._spawn()  # a spare, for this job or one before it
                await self._changed()
            try:
                await child.wait_ready()
            except Exited:
                # a spare that died while waiting (say, the OOM killer): one more chance
                returncode = await self._bury(child)
                if chance == 2:
                    raise ChildDied.from_returncode(returncode, starting=True) from None
                continue
            except ProtocolError:
                await self._bury(child)
                raise
            except BaseException:
                self._give_back(child)
                raise
            child.key = key
            return child
        raise AssertionError("unreachable")

    async def _changed(self) -> None:
        """Until a child is released, retired or started."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _pick(self, key: str) -> ChildProcess | None:
        """Take a warm child of ``key`` or a spare (never awaits: atomic on the loop)."""
        if self._closed:
            raise PoolClosed("the process pool is closed")
        child: ChildProcess | None = None
        for candidate in reversed(list(self._idle)):
            if candidate.key == key:
                self._idle.remove(candidate)
                if candidate.alive():
                    child = candidate
                    break
                self._retire(candidate)
        while child is None and self._spares:
            candidate = self._spares.pop(0)
            if candidate.alive():
                child = candidate
            else:
                self._retire(candidate)
        if child is not None:
            self._busy.add(child)
            self._top_up()
        return child

    def _release(self, child: ChildProcess) -> None:
        """Back from a finished job: warm for its key, or retired."""
        self._busy.discard(child)
        child.jobs += 1
        if self._closed or child.jobs >= self.max_jobs_per_child:
            self._retire(child)
        else:
            self._idle.append(child)
            while len(self._idle) > self.max_idle:
                self._retire(self._idle.pop(0))
        self._wake()

    def _give_back(self, child: ChildProcess) -> None:
        """Taken but given no job (the caller was cancelled while it started)."""
        self._busy.discard(child)
        if self._closed:
            self._retire(child)
        elif child.key is None:
            self._spares.insert(0, child)
        else:
            self._idle.append(child)
        self._wake()

    def _discard(self, child: ChildProcess) -> None:
        """Kill a busy child now, reap it in the background."""
        self._busy.discard(child)
        self._retire(child)
        self._wake()

    async def _bury(self, child: ChildProcess) -> int:
        """Kill a busy child (a no-op when it died) and wait for it; its exit status."""
        self._busy.discard(child)
        child.kill()
        try:
            return await asyncio.to_thread(child.reap)
        finally:
            self._wake()

    def _retire(self, child: ChildProcess) -> None:
        child.kill()
        try:
            asyncio.get_running_loop().run_in_executor(None, child.reap)
        except RuntimeError:  # no loop here (the pool starting or closing): it is quick
            child.reap()

    def _start(self) -> ChildProcess:
        return ChildProcess(child_environment(self._env), self._preload)

    def _spawn(self) -> asyncio.Future[ChildProcess]:
        """Start a child in a thread (starting a process takes milliseconds the loop's other
        work should not wait for); it joins the spares."""
        started = asyncio.get_running_loop().run_in_executor(None, self._start)
        self._starting.add(started)
        started.add_done_callback(self._started)
        return started

    def _started(self, started: asyncio.Future[ChildProcess]) -> None:
        self._starting.discard(started)
        if started.cancelled():
            return
        if (error := started.exception()) is not None:
            log.error("cannot start a child process: %r", error)
        elif self._closed:
            self._retire(started.result())
        else:
            self._spares.append(started.result())
        self._wake()

    def _top_up(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the pool starting outside a loop
            while len(self._spares) < self.spares and self._count() < self.max_children:
                self._spares.append(self._start())
            return
        while (
            len(self._spares) + len(self._starting) < self.spares
            and self._count() < self.max_children
        ):
            self._spawn()

    def _count(self) -> int:
        return len(self._spares) + len(self._idle) + len(self._busy) + len(self._starting)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_set_if_pending, waiter)

    # -- inspecting, closing ----------------------------------------------------------------

    def state(self) -> PoolState:
        return PoolState(
            spares=tuple(c.pid for c in self._spares),
            idle=tuple((c.key or "", c.pid) for c in self._idle),
            busy=tuple(c.pid for c in self._busy),
        )

    async def ready(self) -> None:
        """Wait until the spares have started (interpreter up, imports done)."""
        while self._starting:
            await asyncio.wait(set(self._starting))
        for child in list(self._spares):
            try:
                await child.wait_ready()
            except Exited:
                if child in self._spares:
                    self._spares.remove(child)
                returncode = await asyncio.to_thread(child.reap)
                raise ChildDied.from_returncode(returncode, starting=True) from None

    def close(self) -> None:
        """Kill every child, busy ones included (their ``run`` raises ``PoolClosed``)."""
        self._closed = True
        idle, self._spares, self._idle = [*self._spares, *self._idle], [], []
        for child in list(self._busy):
            child.kill()  # its run() notices, reaps it and raises
        for child in idle:
            child.kill()
        for child in idle:
            child.reap()
        self._wake()

    async def aclose(self) -> None:
        while self._starting:
            await asyncio.wait(set(self._starting))
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> ProcessPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _set_if_pending(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _text(header: Header, name: str, *, limit: int = 6 * MAX_TEXT) -> str:
    value = header.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"a {header['type']!r} message with a bad {name!r}")
    return value


def _outcome(header: Header, body: bytes, job: Job, logs: list[str], pid: int) -> Outcome:
    """The result message as an ``Outcome``, every field checked (the child is not trusted)."""
    ok = header.get("ok")
    if ok is True:
        codec = _text(header, "codec", limit=100)
        if codec not in codecs.SAFE_CODEC_NAMES and not (
            codec == PICKLE_UNSIGNED and job.allow_pickle
        ):
            raise ProtocolError(f"an output in codec {codec!r}")
        return Outcome(True, codec=codec, data=body, logs=logs, pid=pid)
    if ok is not False:
        raise ProtocolError("a 'result' message with a bad 'ok'")
    retryable = header.get("retryable")
    if not isinstance(retryable, bool):
        raise ProtocolError("a 'result' message with a bad 'retryable'")
    traceback: Any = header.get("traceback")
    if traceback is not None:
        traceback = _text(header, "traceback")
    return Outcome(
        False,
        error_type=_text(header, "error_type", limit=1000),
        error_message=_text(header, "error_message"),
        traceback=traceback,
        retryable=retryable,
        logs=logs,
        pid=pid,
    )
