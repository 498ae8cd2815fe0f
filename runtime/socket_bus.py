"""The event bus between processes on one embedded store: UNIX datagram sockets in a
directory beside the SQLite file (``plait.db-bus/``).

A notebook running a graph and ``plait studio`` on the same ``plait.db`` are two processes;
without this, one learns of the other's events only by re-reading the table. Each process that
subscribes binds one socket there; a publisher sends each announcement to every socket in the
directory (one datagram per peer, events and ``node.tokens`` alike). The receiving thread
blocks on its socket: nothing polls. A socket whose process died refuses the connection and
is removed by the first publisher that meets it. As with Redis pub/sub, nothing is kept: the
table stays the truth and followers make up a lost announcement from it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import secrets
import select
import socket
import stat
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from runtime.events import ALL_RUNS, Listener, LocalBus
from runtime.store.tables import EventDict

log = logging.getLogger("plait.bus")

MAX_DATAGRAM = 60_000
"""Announcements larger than this are split into several datagrams (the kernel's limit is
the socket's send buffer, about 200 KB by default); one event larger than it is not sent
(followers read it from the table)."""

BACKLOG_BYTES = 8_000_000
"""Bytes of datagrams kept per peer whose queue is full (Linux queues only
``net.unix.max_dgram_qlen``, 10 by default, e.g. a stopped process); past this the oldest
are dropped (followers read their events from the table)."""

SUFFIX = ".sock"

_MAX_ADDRESS = 100
"""Bytes of a socket path that every platform accepts (``sun_path`` is 104 or 108)."""


def bus_directory(database_url: str) -> Path | None:
    """Where the processes on this store meet: ``<database file>-bus``, like SQLite's own
    ``-wal`` and ``-shm`` files; ``None`` for stores that are no local file."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).absolute()
    return path.with_name(path.name + "-bus")


def supported() -> bool:
    """Whether this platform has UNIX datagram sockets (Windows does not)."""
    family = getattr(socket, "AF_UNIX", None)
    if family is None:
        return False
    try:
        socket.socket(family, socket.SOCK_DGRAM).close()
    except OSError:
        return False
    return True


@dataclass
class _Peer:
    """Another subscribing process, as this one sends to it."""

    path: Path
    sock: socket.socket
    """Connected and non-blocking: a peer that stops reading fills only its own queue."""
    backlog: collections.deque[bytes] = field(default_factory=collections.deque)
    """Datagrams its full queue refused, sent in order once it reads again."""
    backlog_bytes: int = 0
    """Their total size, at most ``BACKLOG_BYTES``."""

    def queue(self, datagram: bytes) -> None:
        self.backlog.append(datagram)
        self.backlog_bytes += len(datagram)
        while self.backlog_bytes > BACKLOG_BYTES:
            self.backlog_bytes -= len(self.backlog.popleft())

    def sent(self) -> None:
        """The first queued datagram went out."""
        self.backlog_bytes -= len(self.backlog.popleft())


def _check_private(directory: Path) -> None:
    """Refuse a directory another user could reach (theirs, a symlink, group or world
    access): whoever can bind or send there reads every event and token, and can cancel runs
    or move a follower past real events."""
    st = os.lstat(directory)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise PermissionError(f"{directory} is not a directory of its own (a symlink?)")
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise PermissionError(
            f"{directory} must belong to this user with mode 0700 "
            f"(uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o})"
        )


class SocketBus:
    """``LocalBus`` for this process, and the same announcements to every other process on
    the store. Listeners are called in the publisher's thread for this process's events and
    in the receiving thread for other processes' ones."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # peers can inject events
        _check_private(directory)
        self._dir_fd = os.open(directory, os.O_RDONLY)
        self._prefix = _prefix(directory, self._dir_fd)
        self._local = LocalBus()
        self._lock = threading.Lock()
        """Guards the peers and their backlogs; held while sending, so each peer gets the
        datagrams in publishing order."""
        self._peers: dict[str, _Peer] = {}
        self._name: str | None = None
        """Our socket's file name once bound (on the first subscription)."""
        self._inbox: socket.socket | None = None
        self._receiver: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        self._wake_flusher: socket.socket | None = None
        self._closed = False
        self._deaf = False
        """Binding failed: this process hears only itself (and re-reads the table)."""
        self._unlink: weakref.finalize | None = None
        """Removes our socket file: by ``close``, or when the interpreter exits."""

    # -- the Bus interface ------------------------------------------------------------------

    def publish(self, run_id: str, events: Sequence[EventDict]) -> None:
        if not events:
            return
        self._local.publish(run_id, events)
        datagrams = _encode(run_id, list(events))
        with self._lock:
            if self._closed:
                return
            for peer in self._current_peers():
                for datagram in datagrams:
                    self._send(peer, datagram)

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        with self._lock:
            if self._inbox is None and not self._closed and not self._deaf:
                self._bind()
        return self._local.subscribe(channel, listener)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            peers, self._peers = list(self._peers.values()), {}
            inbox, receiver, flusher = self._inbox, self._receiver, self._flusher
        if inbox is not None:
            with contextlib.suppress(OSError):  # wakes the receiver now
                inbox.sendto(b"", inbox.getsockname())
        if self._wake_flusher is not None:
            with contextlib.suppress(OSError):
                self._wake_flusher.send(b"x")
        for thread in (receiver, flusher):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=3)
        if self._unlink is not None:
            self._unlink()
        for sock in [p.sock for p in peers] + [inbox, self._wake_flusher]:
            if sock is not None:
                sock.close()
        self._local.close()
        os.close(self._dir_fd)

    # -- sending ----------------------------------------------------------------------------

    def _current_peers(self) -> list[_Peer]:
        """The peers whose sockets are in the directory now (lock held): a process that
        subscribed since the last publish is heard from this one on."""
        try:
            self._reopen_if_replaced()
            names = {
                entry.name
                for entry in os.scandir(self.directory)
                if entry.name.endswith(SUFFIX) and entry.name != self._name
            }
        except OSError as exc:  # the directory was removed: nobody to tell
            log.debug("cannot list %s: %s", self.directory, exc)
            names = set()
        for name in self._peers.keys() - names:
            self._peers.pop(name).sock.close()
        for name in names - self._peers.keys():
            peer = self._connect(name)
            if peer is not None:
                self._peers[name] = peer
        return list(self._peers.values())

    def _reopen_if_replaced(self) -> None:
        """A ``/proc/self/fd`` prefix names the directory we opened: after it was removed
        and made again, open the new one (lock held)."""
        if not self._prefix.startswith("/proc/"):
            return
        if os.stat(self.directory).st_ino == os.fstat(self._dir_fd).st_ino:
            return
        fresh = os.open(self.directory, os.O_RDONLY)
        os.close(self._dir_fd)
        self._dir_fd = fresh
        self._prefix = _prefix(self.directory, fresh)

    def _connect(self, name: str) -> _Peer | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.connect(self._prefix + name)
        except ConnectionRefusedError:
            sock.close()
            self._remove_dead(name)
            return None
        except OSError as exc:  # removed meanwhile, or not ours to write to
            sock.close()
            log.debug("cannot reach %s: %s", name, exc)
            return None
        sock.setblocking(False)
        return _Peer(self.directory / name, sock)

    def _send(self, peer: _Peer, datagram: bytes) -> None:
        """Send now, or queue behind what the peer has not taken yet (lock held)."""
        if peer.backlog:
            peer.queue(datagram)
            return
        try:
            peer.sock.send(datagram)
        except BlockingIOError:
            peer.queue(datagram)
            self._start_flusher()
        except (ConnectionRefusedError, ConnectionResetError):
            self._drop_peer(peer)
        except OSError as exc:
            log.debug("announcement to %s lost: %s", peer.path.name, exc)

    def _drop_peer(self, peer: _Peer) -> None:
        """The peer's process closed its socket or died (lock held)."""
        name = peer.path.name
        if self._peers.get(name) is peer:
            del self._peers[name]
        peer.sock.close()
        self._remove_dead(name)

    def _remove_dead(self, name: str) -> None:
        # a refused connection means no process holds the socket: its owner died unclosed
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.directory / name)

    def _start_flusher(self) -> None:
        if self._flusher is not None:
            if self._wake_flusher is not None:
                with contextlib.suppress(OSError):
                    self._wake_flusher.send(b"x")
            return
        wake, self._wake_flusher = socket.socketpair()
        wake.setblocking(False)
        self._flusher = threading.Thread(
            target=self._flush_forever, args=(wake,), name="plait-bus-flush", daemon=True
        )
        self._flusher.start()

    def _flush_forever(self, wake: socket.socket) -> None:
        """Sends the backlogs as their peers read again: waits in ``poll`` for writable
        sockets (a datagram socket turns writable when its peer's queue has room)."""
        try:
            while True:
                with self._lock:
                    if self._closed:
                        return
                    waiting = {p.sock.fileno(): p for p in self._peers.values() if p.backlog}
                poller = select.poll()
                poller.register(wake, select.POLLIN)
                for fd in waiting:
                    poller.register(fd, select.POLLOUT)
                ready = poller.poll()
                with contextlib.suppress(BlockingIOError):
                    wake.recv(4096)
                with self._lock:
                    for fd, _ in ready:
                        peer = waiting.get(fd)
                        if peer is not None and self._peers.get(peer.path.name) is peer:
                            self._flush(peer)
        finally:
            wake.close()

    def _flush(self, peer: _Peer) -> None:
        while peer.backlog:
            try:
                peer.sock.send(peer.backlog[0])
            except BlockingIOError:
                return
            except (ConnectionRefusedError, ConnectionResetError):
                self._drop_peer(peer)
                return
            except OSError as exc:
                log.debug("announcement to %s lost: %s", peer.path.name, exc)
            peer.sent()

    # -- receiving --------------------------------------------------------------------------

    def _bind(self) -> None:
        """Our socket in the directory, and the thread that reads it (lock held)."""
        name = f"{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
        inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # if removed since
            self._reopen_if_replaced()
            inbox.bind(self._prefix + name)
        except OSError as exc:
            inbox.close()
            self._deaf = True
            log.warning("other processes' events reach this one late (%s: %s)", name, exc)
            return
        self._inbox, self._name = inbox, name
        self._unlink = weakref.finalize(self, _unlink, self.directory / name)
        self._receiver = threading.Thread(
            target=self._receive_forever, args=(inbox,), name="plait-bus", daemon=True
        )
        self._receiver.start()

    def _receive_forever(self, inbox: socket.socket) -> None:
        while True:
            try:
                datagram = inbox.recv(MAX_DATAGRAM + 4096)
            except OSError:
                return
            if self._closed:
                return
            decoded = _decode(datagram)
            if decoded is None:
                continue
            run_id, events = decoded
            try:
                self._local.publish(run_id, events)
            except Exception:  # this thread must outlive any listener
                log.exception("event listener failed")


def _prefix(directory: Path, dir_fd: int) -> str:
    """What socket names are joined to: the directory, or for one whose path is too long
    for a socket address, the same directory through ``/proc/self/fd`` (Linux)."""
    plain = f"{directory}{os.sep}"
    if len(os.fsencode(plain)) + 32 <= _MAX_ADDRESS:
        return plain
    short = f"/proc/self/fd/{dir_fd}/"
    if os.path.isdir(short):
        return short
    raise OSError(f"the socket directory {directory} is too long a path for a socket address")


def _encode(run_id: str, events: list[EventDict]) -> list[bytes]:
    """Datagrams of at most ``MAX_DATAGRAM`` bytes, each a run of consecutive events."""
    datagram = json.dumps({"run": run_id, "events": events}, default=str).encode()
    if len(datagram) <= MAX_DATAGRAM:
        return [datagram]
    if len(events) == 1:
        log.debug("event %s of run %s too large to announce", events[0].get("seq"), run_id)
        return []
    half = len(events) // 2
    return _encode(run_id, events[:half]) + _encode(run_id, events[half:])


def _decode(datagram: bytes) -> tuple[str, list[EventDict]] | None:
    """The run and its events, or ``None`` for anything else (a wake-up, a stray sender)."""
    if not datagram:
        return None
    try:
        message = json.loads(datagram)
        run_id, events = message["run"], message["events"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(run_id, str) or run_id == ALL_RUNS or not isinstance(events, list):
        return None
    if not all(
        isinstance(e, dict) and isinstance(e.get("type"), str) and isinstance(e.get("seq"), int)
        for e in events
    ):
        return None
    return run_id, events


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
