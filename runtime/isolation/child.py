"""A child process of the pool: ``python -m runtime.isolation.child IN_FD OUT_FD [MODULE...]``.

It imports what node code needs (``runtime.codecs``, ``runtime.context`` and the modules
named), says it is ready, then runs jobs one at a time in its main thread: the pickled call
is loaded and called, an awaitable result is awaited on the child's own event loop, and the
output is encoded here, with the safe codecs only (an output only pickle takes comes back as
raw cloudpickle for the parent to sign). Log lines and documents are sent as they happen.
It never imports the store, the engine or the configuration, and it has no keys to find.

When its parent goes away (the pipe from the parent ends) the child kills its process group,
itself included: an attempt whose worker died stops its side effects.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import inspect
import logging
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import cloudpickle

from runtime import codecs, context
from runtime.errors import CodecError, PlaitError
from runtime.isolation.job import PICKLE_UNSIGNED, Stored
from runtime.isolation.protocol import MAX_BODY, MAX_TEXT, Header, frame, read_frame, write_all


class _Channel:
    """Frames to and from the parent. A thread reads everything the parent sends, so the
    end of the parent is noticed while a node runs."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd, self._write_fd = read_fd, write_fd
        self._lock = threading.Lock()
        self.jobs: queue.Queue[tuple[Header, bytes]] = queue.Queue()
        self.replies: queue.Queue[Header] = queue.Queue()
        threading.Thread(target=self._listen, name="plait-isolation", daemon=True).start()

    def send(self, header: Header, body: bytes = b"") -> None:
        with self._lock:
            write_all(self._write_fd, frame(header, body))

    def _listen(self) -> None:
        try:
            while (message := read_frame(self._read_fd)) is not None:
                header, body = message
                if header["type"] == "job":
                    self.jobs.put((header, body))
                else:
                    self.replies.put(header)
        finally:
            _end_group()


def _end_group() -> None:
    """The parent is gone or let this child go: stop everything the node started."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(0)


class _StreamedLogs(list[str]):
    """The attempt's log lines, each also sent to the parent at once (so the lines logged
    before a crash or a timeout are kept)."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def append(self, line: str) -> None:
        super().append(line)
        self._channel.send({"type": "log", "line": _cut(str(line))})


class _DocumentSaver:
    """``rt.current().save_document`` in the child: encoded here, stored by the parent before
    the call returns (so a failure to store raises in the node, as in thread mode)."""

    def __init__(self, channel: _Channel, node: str) -> None:
        self._channel = channel
        self._node = node
        self._lock = threading.Lock()
        """One save in flight: replies come back in the order of the saves."""

    def __call__(self, name: str, content: Any, kind: str) -> None:
        what = f"document {name!r} of node {self._node!r}"
        if not isinstance(name, str) or not 0 < len(name) <= 1000:
            raise PlaitError(f"{what}: a document's name is a string of 1 to 1000 characters")
        if not isinstance(kind, str) or len(kind) > 100:
            raise PlaitError(f"{what}: kind must be a short string, not {kind!r}")
        encoded = codecs.encode(content, what=what)
        _check_size(encoded.data, what)
        header = {"type": "document", "name": name, "kind": kind, "codec": encoded.codec}
        with self._lock:
            self._channel.send(header, encoded.data)
            reply = self._channel.replies.get()
        if reply["type"] != "document_saved":
            raise PlaitError(str(reply.get("error", f"document {name!r} was not saved")))


def run_job(
    header: Header, body: bytes, channel: _Channel, loop: asyncio.AbstractEventLoop
) -> tuple[Header, bytes]:
    """Run one job; the result frame to send back."""
    ctx = context.NodeContext(**header["context"])
    ctx.logs = _StreamedLogs(channel)
    ctx.saver = _DocumentSaver(channel, ctx.node)
    logging.getLogger().setLevel(header["log_level"])
    token = context.activate(ctx)
    try:
        try:
            target, kwargs = cloudpickle.loads(body)
            kwargs = {k: _decoded(v) if isinstance(v, Stored) else v for k, v in kwargs.items()}
        except BaseException as exc:
            return _failure(exc, retryable=False, doing="cannot load the node's code or inputs")
        # the parent times the node from here: loading its module is the child's start-up
        channel.send({"type": "started"})
        try:
            value = target(**kwargs)
            if inspect.isawaitable(value):
                value = loop.run_until_complete(_awaited(value))
        except BaseException as exc:
            return _failure(exc)
        return _encoded(value, ctx.node, header["allow_pickle"])
    finally:
        token.var.reset(token)


def _decoded(stored: Stored) -> Any:
    if stored.codec == PICKLE_UNSIGNED:
        return cloudpickle.loads(stored.data)
    return codecs.decode(stored.codec, stored.data)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _encoded(value: Any, node: str, allow_pickle: bool) -> tuple[Header, bytes]:
    what = f"output of node {node!r}"
    try:
        try:
            encoded = codecs.encode(value, what=what)
        except CodecError:
            if not allow_pickle:
                raise
            encoded = codecs.Encoded(PICKLE_UNSIGNED, _pickled(value, what))
        _check_size(encoded.data, what)
    except CodecError as exc:
        return _failure(exc)
    return {"type": "result", "ok": True, "codec": encoded.codec}, encoded.data


def _pickled(value: Any, what: str) -> bytes:
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        raise CodecError(f"{what}: cannot pickle a value of type {kind}: {exc}") from exc


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_BODY:
        raise CodecError(
            f"{what} is {len(data)} bytes encoded; at most {MAX_BODY} leave a child process"
        )


def _failure(
    exc: BaseException, *, retryable: bool = True, doing: str = ""
) -> tuple[Header, bytes]:
    try:
        message = str(exc)
    except Exception:
        message = f"<{type(exc).__name__} whose str() fails>"
    return {
        "type": "result",
        "ok": False,
        "error_type": type(exc).__name__,
        "error_message": _cut(f"{doing}: {message}" if doing else message),
        "traceback": _cut(_user_traceback(exc)),
        "retryable": retryable and not isinstance(exc, CodecError),
    }, b""


_INTERNAL = (__file__, str(Path(asyncio.__file__).parent))
"""Where the frames between the child's loop and a node's own code live."""


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code on, as thread mode gives it."""
    summary = traceback.TracebackException.from_exception(exc)
    frames = list(summary.stack)
    first = next((i for i, f in enumerate(frames) if not f.filename.startswith(_INTERNAL)), 0)
    summary.stack = traceback.StackSummary.from_list(frames[first:])
    return "".join(summary.format())


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " ... (cut)"


def main(argv: list[str]) -> None:
    read_fd, write_fd = int(argv[0]), int(argv[1])
    for fd in (read_fd, write_fd):
        os.set_inheritable(fd, False)  # what a node starts must not hold the parent's pipes
    faulthandler.enable()  # a segfault's traceback on stderr, then the signal as the exit
    for module in argv[2:]:
        importlib.import_module(module)
    context.install_log_capture()
    channel = _Channel(read_fd, write_fd)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    channel.send({"type": "ready", "pid": os.getpid()})
    while True:
        header, body = channel.jobs.get()
        result, data = run_job(header, body, channel, loop)
        channel.send(result, data)


if __name__ == "__main__":
    main(sys.argv[1:])
