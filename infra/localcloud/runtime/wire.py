"""The frames that the runtime and its workers exchange on a pair of pipes.

The worker imports this file by path, before the function's code is on sys.path, so it
imports only the standard library. A frame is an 8-byte prefix (the lengths of the header
and of the body, big-endian), a JSON header, then the body bytes (an event or a result).
stdout and stderr carry the function's log. The worker ends each phase's log with a marker
line, so that the runtime can split the log by invocation.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

PREFIX = struct.Struct("!II")

# Environment variables that pass the pipe ends to the worker, which removes them.
REQUEST_FD_VARIABLE = "_MHPE_RUNTIME_REQUEST_FD"
RESPONSE_FD_VARIABLE = "_MHPE_RUNTIME_RESPONSE_FD"

# Header "type" values sent by the worker.
READY = "ready"
INIT_ERROR = "init_error"
RESULT = "result"

INIT_TAG = "init"


def encode_frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(header_bytes), len(body)) + header_bytes + body


def log_marker(tag: str) -> bytes:
    """Return the line that ends the log of one phase (`INIT_TAG` or a request id)."""
    return b"\x1e" + tag.encode() + b"\x1e\n"


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes | None:
    """Read `size` bytes with blocking reads, or return None on end of file."""
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[dict[str, Any], bytes] | None:
    """Read one frame with blocking reads, or return None when the other end closed the pipe."""
    prefix = read_exact(fd, PREFIX.size)
    if prefix is None:
        return None
    header_size, body_size = PREFIX.unpack(prefix)
    header = read_exact(fd, header_size)
    body = read_exact(fd, body_size) if body_size else b""
    if header is None or body is None:
        return None
    return json.loads(header), body


class FrameBuffer:
    """Bytes received so far on a non-blocking pipe, cut into frames as they complete."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def pop_frame(self) -> tuple[dict[str, Any], bytes] | None:
        if len(self._data) < PREFIX.size:
            return None
        header_size, body_size = PREFIX.unpack_from(self._data)
        end = PREFIX.size + header_size + body_size
        if len(self._data) < end:
            return None
        header = json.loads(self._data[PREFIX.size : PREFIX.size + header_size])
        body = bytes(self._data[PREFIX.size + header_size : end])
        del self._data[:end]
        return header, body
