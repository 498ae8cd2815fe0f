"""The framed protocol between the pool and a child process.

A frame is an 8-byte prefix (the header's and the body's lengths, big-endian), a JSON header
(an object with a ``type``) and raw body bytes. Nothing executable crosses from child to
parent: the parent only parses JSON and copies bytes. The parent sends pickled code in job
bodies; the child trusts its parent.

Parent to child: ``job`` (body: the pickled call), ``document_saved``, ``document_failed``.
Child to parent: ``ready``, ``log``, ``document`` (body: the encoded content), ``result``
(body: the encoded output).
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

_PREFIX = struct.Struct(">II")

MAX_HEADER = 4 << 20
"""A header is a few fields and texts the child caps at ``MAX_TEXT`` characters (JSON may
escape each into six); a longer header is a malformed frame."""

MAX_TEXT = 100_000
"""Characters of an error message, a traceback or a log line the child sends; longer ones are
cut."""

MAX_BODY = 1 << 30
"""An encoded output or document: larger than anything the store keeps (PostgreSQL's
``bytea`` holds 1 GB), so a child claiming more is refused before the parent buffers it."""

Header = dict[str, Any]


class FrameError(Exception):
    """Bytes that are not a frame of this protocol."""


def frame(header: Header, body: bytes = b"") -> list[bytes]:
    """The frame's parts, in order (the body is not copied)."""
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return [_PREFIX.pack(len(encoded), len(body)) + encoded, body]


class FrameReader:
    """Turns bytes as they arrive into frames, refusing oversized or malformed ones before
    buffering them."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._sizes: tuple[int, int] | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> tuple[Header, bytes] | None:
        """The next complete frame, or ``None`` until more bytes arrive."""
        if self._sizes is None:
            if len(self._buffer) < _PREFIX.size:
                return None
            header_size, body_size = _PREFIX.unpack_from(self._buffer)
            if header_size > MAX_HEADER:
                raise FrameError(f"a header of {header_size} bytes (at most {MAX_HEADER})")
            if body_size > MAX_BODY:
                raise FrameError(f"a body of {body_size} bytes (at most {MAX_BODY})")
            self._sizes = header_size, body_size
        header_size, body_size = self._sizes
        end = _PREFIX.size + header_size + body_size
        if len(self._buffer) < end:
            return None
        raw_header = bytes(self._buffer[_PREFIX.size : _PREFIX.size + header_size])
        body = bytes(self._buffer[_PREFIX.size + header_size : end])
        del self._buffer[:end]
        self._sizes = None
        return parse_header(raw_header), body


def parse_header(raw: bytes) -> Header:
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"a header that is not JSON ({exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise FrameError("a header that is not an object with a 'type'")
    return header


# -- blocking I/O, as the child does it ----------------------------------------------------


def write_all(fd: int, parts: list[bytes]) -> None:
    for part in parts:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


def read_frame(fd: int) -> tuple[Header, bytes] | None:
    """The next frame from a blocking descriptor; ``None`` at end of file."""
    prefix = _read_exactly(fd, _PREFIX.size)
    if prefix is None:
        return None
    header_size, body_size = _PREFIX.unpack(prefix)
    header = _read_exactly(fd, header_size)
    body = _read_exactly(fd, body_size)
    if header is None or body is None:
        return None
    return parse_header(header), body


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
