"""One child process as the parent sees it: the process, its two pipes, and what it has run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

from runtime.isolation.job import ProtocolError
from runtime.isolation.protocol import FrameError, FrameReader, Header, frame

_CHUNK = 1 << 20


class Exited(Exception):
    """The child's end of a pipe closed, or the process is gone."""


class ChildProcess:
    """``python -m runtime.isolation.child`` in a session (and process group) of its own, so
    that killing it kills what it started too. Its stdout and stderr are the parent's: a
    node's prints show where a thread-mode node's would. Protocol frames travel on two pipes
    of their own. All methods but ``kill`` run on the event loop that uses the child."""

    def __init__(self, env: Mapping[str, str], preload: Sequence[str] = ()) -> None:
        child_in, parent_out = os.pipe()
        parent_in, child_out = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runtime.isolation.child",
                    str(child_in),
                    str(child_out),
                    *preload,
                ],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
                env=dict(env),
                start_new_session=True,
            )
        except BaseException:
            for fd in (parent_in, parent_out):
                os.close(fd)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        self.pid = self.process.pid
        self._in, self._out = parent_in, parent_out
        os.set_blocking(parent_in, False)
        os.set_blocking(parent_out, False)
        self._pidfd: int | None = None
        """Readable once the process exited: notices a death while something the child forked
        still holds its pipe open."""
        with contextlib.suppress(AttributeError, OSError):
            self._pidfd = os.pidfd_open(self.pid)
        self._reader = FrameReader()
        self._ready_lock = asyncio.Lock()
        self.ready = False
        """It said it is ready: interpreter started, imports done."""
        self.key: str | None = None
        """The key of the jobs it runs; ``None`` until its first."""
        self.jobs = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"<ChildProcess {self.pid} key={self.key!r} jobs={self.jobs}>"

    def alive(self) -> bool:
        """Whether it still runs; asked without reaping it (see ``reap``)."""
        if self.process.returncode is not None:
            return False
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    async def wait_ready(self) -> None:
        async with self._ready_lock:
            if self.ready:
                return
            header, _ = await self.receive()
            if header["type"] != "ready" or header.get("pid") != self.pid:
                raise ProtocolError(f"a {header['type']!r} message instead of 'ready'")
            self.ready = True

    async def send(self, header: Header, body: bytes = b"") -> None:
        for part in frame(header, body):
            view = memoryview(part)
            while view:
                try:
                    view = view[os.write(self._out, view) :]
                except BlockingIOError:
                    await self._wait(self._out, write=True)
                except (BrokenPipeError, OSError):
                    raise Exited from None

    async def receive(self) -> tuple[Header, bytes]:
        while True:
            try:
                message = self._reader.next()
            except FrameError as exc:
                raise ProtocolError(f"a malformed frame: {exc}") from None
            if message is not None:
                return message
            try:
                data = os.read(self._in, _CHUNK)
            except BlockingIOError:
                await self._wait(self._in, write=False)
                continue
            if not data:
                raise Exited
            self._reader.feed(data)

    async def _wait(self, fd: int, *, write: bool) -> None:
        """Until ``fd`` is ready, or the process exited (then ``Exited``)."""
        if not self.alive():
            raise Exited
        loop = asyncio.get_running_loop()
        woken = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        if write:
            loop.add_writer(fd, wake)
        else:
            loop.add_reader(fd, wake)
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, wake)
        try:
            await woken
        finally:
            if write:
                loop.remove_writer(fd)
            else:
                loop.remove_reader(fd)
            if self._pidfd is not None:
                loop.remove_reader(self._pidfd)
        if self._pidfd is not None and not self.alive() and not write:
            # the process is gone: what it wrote before dying is still worth reading
            try:
                data = os.read(self._in, _CHUNK)
            except BlockingIOError:
                raise Exited from None
            if not data:
                raise Exited
            self._reader.feed(data)

    def kill(self) -> None:
        """SIGKILL the child's process group: the node and whatever it started stop at once.
        Safe from any thread; the process is reaped by ``reap``."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def reap(self) -> int:
        """Kill, wait for the exit (blocking; at once after a kill) and close the pipes; the
        exit status as ``Popen.returncode`` has it (negative: a signal)."""
        # killing before reaping: the zombie keeps its process group id from being reused, and
        # an exit status already there is not changed by the kill
        self.kill()
        returncode = self.process.wait()
        self.close_pipes()
        return returncode

    def close_pipes(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fd in (self._in, self._out, self._pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
