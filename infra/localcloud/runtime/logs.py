"""The log lines that Lambda writes around each invocation, and where they are kept."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path

from infra.localcloud.runtime.spec import FunctionSpec

logger = logging.getLogger(__name__)

LogSink = Callable[[FunctionSpec, str, list[str]], None]


def init_start_line(spec: FunctionSpec) -> str:
    return f"INIT_START Runtime Version: {spec.runtime}"


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """Format Lambda's REPORT line, which bills each invocation by the started millisecond."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(math.ceil(duration_ms), 1)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return " ".join(fields)


class InvocationLog:
    """Appends each invocation's lines to log_dir/FUNCTION_NAME.log and passes them to a sink."""

    def __init__(self, log_dir: Path, sink: LogSink | None) -> None:
        self._log_dir = log_dir
        self._sink = sink
        self._file_locks: dict[str, threading.Lock] = {}
        self._file_locks_guard = threading.Lock()
        log_dir.mkdir(parents=True, exist_ok=True)

    def path(self, function_name: str) -> Path:
        return self._log_dir / f"{function_name}.log"

    def record(self, spec: FunctionSpec, request_id: str, lines: list[str]) -> None:
        text = "\n".join(lines) + "\n"
        path = self.path(spec.function_name)
        with self._file_lock(spec.function_name), open(path, "a", encoding="utf-8") as log_file:
            log_file.write(text)
        if self._sink is None:
            return
        try:
            self._sink(spec, request_id, lines)
        except Exception:  # a failing sink must not fail the invocation
            logger.exception(
                "log sink failed on request %s of function %s", request_id, spec.function_name
            )

    def _file_lock(self, function_name: str) -> threading.Lock:
        with self._file_locks_guard:
            return self._file_locks.setdefault(function_name, threading.Lock())
