"""The result of one invocation, and the error documents that Lambda itself writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

UNHANDLED = "Unhandled"
# Lambda's payload limit for a synchronous request and for its response.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, as the Lambda Invoke API returns it.

    `payload` is the handler's JSON result or Lambda's error document. `function_error` is
    "Unhandled" when the invocation failed. `log_result` contains this invocation's log
    lines, from START (or INIT_START on a cold start) to REPORT.
    """

    request_id: str
    payload: bytes
    function_error: str | None
    log_result: str
    duration_ms: float
    cold_start: bool


def iso_now() -> str:
    """Return the current UTC time as Lambda writes it, with milliseconds: 2024-05-01T12:00:00.123Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"{iso_now()} {request_id} Task timed out after {timeout_s:.2f} seconds"


def exit_message(request_id: str, exit_reason: str) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason}"


def error_document(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()
