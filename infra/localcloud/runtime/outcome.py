"""How an invocation ended, turned into what Lambda returns and logs for it.

A worker phase ends completed, timed out, exited or out of memory (see worker.py).
`InvocationReport` turns that end into the payload, the function error and the REPORT line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from infra.localcloud.runtime import logs
from infra.localcloud.runtime.result import (
    MAX_PAYLOAD_BYTES,
    UNHANDLED,
    InvocationResult,
    error_document,
    exit_message,
    timeout_message,
)
from infra.localcloud.runtime.spec import FunctionSpec
from infra.localcloud.runtime.worker import PhaseOutcome, PhaseStatus


@dataclass(frozen=True)
class ColdStart:
    """The init phase of a new worker: its duration and its log lines, INIT_START first."""

    duration_ms: float
    log_lines: list[str]


class InvocationReport:
    """The outcome of one invocation as Lambda reports it: payload, error type and REPORT."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.payload = b""
        self.error_type: str | None = None
        self.status: str | None = None
        self.duration_ms = 0.0
        self.max_memory_used_mb = 0
        self.extra_lines: list[str] = []
        self.keeps_worker = True

    def completed(
        self, outcome: PhaseOutcome, spec: FunctionSpec, max_memory_used_mb: int, enforce: bool
    ) -> None:
        self.payload = outcome.body
        self.error_type = outcome.header["error_type"]
        self.duration_ms = outcome.header["duration_ms"]
        self.max_memory_used_mb = max_memory_used_mb
        if enforce and max_memory_used_mb > spec.memory_mb:
            # The peak came and went between two memory checks, but Lambda would have killed it.
            self._runtime_error(
                "Runtime.OutOfMemory", exit_message(self.request_id, "signal: killed")
            )
            self.max_memory_used_mb = spec.memory_mb
        elif len(self.payload) > MAX_PAYLOAD_BYTES:
            message = (
                f"Response payload size ({len(self.payload)} bytes) exceeded maximum allowed "
                f"payload size ({MAX_PAYLOAD_BYTES} bytes)."
            )
            self.payload = error_document("Function.ResponseSizeTooLarge", message)
            self.error_type = "Function.ResponseSizeTooLarge"

    def failed(self, outcome: PhaseOutcome, spec: FunctionSpec, max_memory_used_mb: int) -> None:
        self.duration_ms = outcome.elapsed_ms
        self.max_memory_used_mb = max_memory_used_mb
        if outcome.status is PhaseStatus.TIMED_OUT:
            message = timeout_message(self.request_id, spec.timeout_s)
            self.payload = error_document("Sandbox.Timedout", message)
            self.error_type = "Sandbox.Timedout"
            self.status = "timeout"
            self.duration_ms = spec.timeout_s * 1000
            self.extra_lines = [message]
            self.keeps_worker = False
        elif outcome.status is PhaseStatus.OUT_OF_MEMORY:
            self._runtime_error(
                "Runtime.OutOfMemory", exit_message(self.request_id, "signal: killed")
            )
            self.max_memory_used_mb = spec.memory_mb
        else:
            message = exit_message(self.request_id, outcome.exit_reason)
            self._runtime_error("Runtime.ExitError", message)

    def init_failed(self, init: PhaseOutcome, spec: FunctionSpec) -> None:
        if init.status is not PhaseStatus.COMPLETED:
            self.failed(init, spec, 0)
            return
        self.payload = init.body
        self.error_type = json.loads(init.body)["errorType"]
        self.duration_ms = init.elapsed_ms
        self.max_memory_used_mb = math.ceil(init.header.get("max_rss_kb", 0) / 1024)
        self.status = "error"
        self.keeps_worker = False

    def log_lines(
        self, spec: FunctionSpec, invocation_lines: list[str], cold: ColdStart | None
    ) -> list[str]:
        """Return the invocation's log: init lines, START, the handler's lines, END, REPORT."""
        lines = list(cold.log_lines) if cold is not None else []
        lines.append(logs.start_line(self.request_id))
        lines.extend(invocation_lines)
        lines.extend(self.extra_lines)
        lines.append(logs.end_line(self.request_id))
        lines.append(
            logs.report_line(
                self.request_id,
                self.duration_ms,
                spec.memory_mb,
                self.max_memory_used_mb,
                cold.duration_ms if cold is not None else None,
                self.status,
                self.error_type if self.status is not None else None,
            )
        )
        return lines

    def result(self, log_lines: list[str], cold_start: bool) -> InvocationResult:
        return InvocationResult(
            request_id=self.request_id,
            payload=self.payload,
            function_error=UNHANDLED if self.error_type is not None else None,
            log_result="\n".join(log_lines) + "\n",
            duration_ms=self.duration_ms,
            cold_start=cold_start,
        )

    def _runtime_error(self, error_type: str, message: str) -> None:
        self.payload = error_document(error_type, message)
        self.error_type = error_type
        self.status = "error"
        self.extra_lines = [message, error_type]
        self.keeps_worker = False
