"""One worker process: start it, wait for its init, send it events, and stop it.

A worker serves one invocation at a time, and only the thread that checked it out of the
pool talks to it, so a worker needs no lock. Each phase (init or invocation) ends with a
frame on the response pipe. While it waits, the thread also reads the log pipe, so that a
handler that prints a lot does not block on a full pipe while it runs. Every
`POLL_SLICE_S` it checks whether the worker died or used more memory than its MemorySize.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.localcloud.runtime import wire
from infra.localcloud.runtime.spec import FunctionSpec

logger = logging.getLogger(__name__)

BOOTSTRAP_PATH = Path(__file__).with_name("bootstrap.py")
POLL_SLICE_S = 0.05
# How long to wait for the end-of-log marker after the result frame arrived. The worker
# writes the marker first, so it is missing only when the handler redirected file descriptor 1.
MARKER_GRACE_S = 0.5
KILL_WAIT_S = 5.0
READ_SIZE = 65_536
MAX_DRAIN_READS = 64
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Variables that a worker gets unless the base or function environment sets them.
DEFAULT_ENVIRONMENT = {
    "LANG": "C.UTF-8",
    "TZ": "UTC",
    "AWS_EC2_METADATA_DISABLED": "true",
}

# Go's names for signals, which Lambda uses in "Runtime exited with error: signal: NAME".
SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
}


class PhaseStatus(enum.Enum):
    COMPLETED = "completed"
    TIMED_OUT = "timed out"
    EXITED = "exited"
    OUT_OF_MEMORY = "out of memory"


@dataclass
class PhaseOutcome:
    """The end of one init or invocation, with the log lines the worker wrote during it."""

    status: PhaseStatus
    log_lines: list[str]
    elapsed_ms: float
    header: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    exit_reason: str = ""


def exit_reason(returncode: int) -> str:
    """Describe a worker's exit as Lambda does: "signal: killed" or "exit status 1"."""
    if returncode < 0:
        number = -returncode
        try:
            name = SIGNAL_NAMES.get(signal.Signals(number), signal.Signals(number).name.lower())
        except ValueError:
            name = f"signal {number}"
        return f"signal: {name}"
    return f"exit status {returncode}"


def log_stream_name() -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def worker_environment(
    spec: FunctionSpec, base_environment: Mapping[str, str], stream_name: str
) -> dict[str, str]:
    """Build a worker's environment: defaults, base, the function's variables, Lambda's own."""
    search_path = [str(spec.code_dir), *(str(path) for path in spec.layer_dirs)]
    environment = {"PATH": os.environ.get("PATH", os.defpath), **DEFAULT_ENVIRONMENT}
    environment.update(base_environment)
    environment.update(spec.environment)
    if environment.get("PYTHONPATH"):
        search_path.append(environment["PYTHONPATH"])
    environment.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{spec.timeout_s:g}",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream_name,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP_PATH.parent),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join(search_path),
        }
    )
    return environment


class LogBuffer:
    """The bytes read from a worker's stdout and stderr, cut into lines at each marker."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._searched = 0

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def take_until(self, marker: bytes) -> list[str] | None:
        """Remove and return the lines before `marker`, or return None if it has not arrived."""
        start = max(self._searched - len(marker), 0)
        index = self._data.find(marker, start)
        if index < 0:
            self._searched = len(self._data)
            return None
        lines = _decode_lines(self._data[:index])
        del self._data[: index + len(marker)]
        self._searched = 0
        return lines

    def take_all(self) -> list[str]:
        lines = _decode_lines(self._data)
        self._data.clear()
        self._searched = 0
        return lines


def _decode_lines(data: bytes | bytearray) -> list[str]:
    return bytes(data).decode("utf-8", errors="replace").splitlines()


def _resident_memory_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * PAGE_SIZE / 1_048_576


class WorkerProcess:
    """A started worker of one function, with the ends of its request, result and log pipes."""

    def __init__(
        self, spec: FunctionSpec, base_environment: Mapping[str, str], enforce_memory: bool
    ) -> None:
        self.function_name = spec.function_name
        self.key = spec.worker_key
        self.stream_name = log_stream_name()
        self.invocations = 0
        self.idle_since = time.monotonic()
        self.max_memory_used_mb = 0
        self._stopped = False
        self._memory_mb = spec.memory_mb
        self._enforce_memory = enforce_memory
        self._frames = wire.FrameBuffer()
        self._log = LogBuffer()

        environment = worker_environment(spec, base_environment, self.stream_name)
        request_read, self._request_fd = os.pipe()
        self._response_fd, response_write = os.pipe()
        environment[wire.REQUEST_FD_VARIABLE] = str(request_read)
        environment[wire.RESPONSE_FD_VARIABLE] = str(response_write)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-u", str(BOOTSTRAP_PATH)],
                cwd=spec.code_dir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, response_write),
                start_new_session=True,
            )
        except OSError:
            for fd in (request_read, self._request_fd, self._response_fd, response_write):
                os.close(fd)
            raise
        os.close(request_read)
        os.close(response_write)
        assert self._process.stdout is not None
        self._log_fd = self._process.stdout.fileno()
        self._poller = select.poll()
        self._poller.register(self._response_fd, select.POLLIN)
        self._poller.register(self._log_fd, select.POLLIN)
        logger.info(
            "started worker %d of function %s (log stream %s)",
            self.pid,
            self.function_name,
            self.stream_name,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def wait_ready(self, timeout_s: float) -> PhaseOutcome:
        """Wait for the worker to import the handler. The header type is READY or INIT_ERROR."""
        return self._await_phase(wire.log_marker(wire.INIT_TAG), time.monotonic(), timeout_s)

    def invoke(
        self, request_id: str, invoked_function_arn: str, event: bytes, timeout_s: float
    ) -> PhaseOutcome:
        """Send one event and wait for its result, at most `timeout_s` seconds."""
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        header = {
            "request_id": request_id,
            "invoked_function_arn": invoked_function_arn,
            "deadline_ms": deadline_ms,
        }
        self.invocations += 1
        try:
            wire.write_all(self._request_fd, wire.encode_frame(header, event))
        except BrokenPipeError:
            # The worker died while idle, and _await_phase reports its exit status.
            pass
        return self._await_phase(wire.log_marker(request_id), started, timeout_s)

    def record_memory(self, header: dict[str, Any]) -> None:
        """Keep the peak resident memory that the worker reported in a frame header."""
        self.max_memory_used_mb = math.ceil(header.get("max_rss_kb", 0) / 1024)

    def kill(self) -> None:
        """Kill the worker from any thread. The thread that runs it then gets an EXITED outcome."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Kill the worker and every process it started, and release its pipes."""
        if self._stopped:
            return
        self._kill()
        self._close_pipes()
        logger.info("stopped worker %d of function %s", self.pid, self.function_name)

    def _kill(self) -> None:
        self.kill()
        try:
            self._process.wait(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            logger.error("worker %d of %s did not exit after SIGKILL", self.pid, self.function_name)

    def _close_pipes(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        os.close(self._request_fd)
        os.close(self._response_fd)
        # The Popen object owns the log pipe, and closing it there keeps Popen from closing
        # the same descriptor number again later, when another pipe may have reused it.
        assert self._process.stdout is not None
        self._process.stdout.close()

    def _await_phase(self, marker: bytes, started: float, timeout_s: float) -> PhaseOutcome:
        deadline = started + timeout_s
        frame: tuple[dict[str, Any], bytes] | None = None
        log_lines: list[str] | None = None
        marker_deadline = 0.0
        next_memory_check = started + POLL_SLICE_S

        while frame is None or log_lines is None:
            now = time.monotonic()
            if frame is None and now >= deadline:
                return self._end_phase(PhaseStatus.TIMED_OUT, started, log_lines)
            if frame is not None and now >= marker_deadline:
                logger.warning(
                    "worker %d of %s sent no end-of-log marker, so later lines may be missing",
                    self.pid,
                    self.function_name,
                )
                log_lines = self._log.take_all()
                break

            limit = deadline if frame is None else marker_deadline
            response_closed = self._read_available(min(limit - now, POLL_SLICE_S))
            if log_lines is None:
                log_lines = self._log.take_until(marker)
            if frame is not None:
                continue
            frame = self._frames.pop_frame()
            if frame is not None:
                marker_deadline = time.monotonic() + MARKER_GRACE_S
            elif response_closed or self._process.poll() is not None:
                return self._end_phase(PhaseStatus.EXITED, started, log_lines)
            elif time.monotonic() >= next_memory_check:
                if self._over_memory_limit():
                    return self._end_phase(PhaseStatus.OUT_OF_MEMORY, started, log_lines)
                next_memory_check = time.monotonic() + POLL_SLICE_S

        header, body = frame
        elapsed_ms = (time.monotonic() - started) * 1000
        return PhaseOutcome(PhaseStatus.COMPLETED, log_lines, elapsed_ms, header, body)

    def _read_available(self, wait_s: float) -> bool:
        """Read what the worker writes within `wait_s`, and return True if it closed the result pipe."""
        response_closed = False
        for fd, _ in self._poller.poll(max(wait_s, 0.0) * 1000):
            chunk = os.read(fd, READ_SIZE)
            if fd == self._log_fd:
                self._log.feed(chunk)
            else:
                self._frames.feed(chunk)
            if not chunk:
                self._poller.unregister(fd)
                response_closed = response_closed or fd == self._response_fd
        return response_closed

    def _end_phase(
        self, status: PhaseStatus, started: float, log_lines: list[str] | None
    ) -> PhaseOutcome:
        """Kill the worker after a timeout, an exit or a memory overrun, and keep its last log."""
        elapsed_ms = (time.monotonic() - started) * 1000
        self._kill()
        reason = exit_reason(self._process.returncode)
        if status is PhaseStatus.EXITED:
            logger.warning("worker %d of %s exited: %s", self.pid, self.function_name, reason)
        self._drain_log_pipe()
        lines = (log_lines or []) + self._log.take_all()
        self._close_pipes()
        logger.info(
            "stopped worker %d of function %s (%s)", self.pid, self.function_name, status.value
        )
        return PhaseOutcome(status, lines, elapsed_ms, exit_reason=reason)

    def _drain_log_pipe(self) -> None:
        # The worker is dead, but a process it started may still hold the pipe open, so read
        # only what is there now.
        poller = select.poll()
        poller.register(self._log_fd, select.POLLIN)
        for _ in range(MAX_DRAIN_READS):
            if not poller.poll(0):
                return
            chunk = os.read(self._log_fd, READ_SIZE)
            if not chunk:
                return
            self._log.feed(chunk)

    def _over_memory_limit(self) -> bool:
        # NOTE: this counts the worker's own resident memory from /proc, so processes that the
        # handler starts are not counted, and nothing is checked here on systems without /proc.
        if not self._enforce_memory:
            return False
        resident_mb = _resident_memory_mb(self._process.pid)
        return resident_mb is not None and resident_mb > self._memory_mb
