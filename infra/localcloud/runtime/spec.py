"""The configuration of one Lambda function, as the runtime needs it to start workers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Lambda's limits for MemorySize (MB) and Timeout (seconds).
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10_240
MAX_TIMEOUT_S = 900.0
# Lambda's pattern for a function name. The name also names the function's log file.
FUNCTION_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class FunctionSpec:
    """A function's code, handler, layers, environment and limits.

    `code_dir` plays /var/task: it is the worker's working directory and the first entry of
    its sys.path. Each of `layer_dirs` plays /opt/python and follows `code_dir` on sys.path,
    in order. `revision` must change whenever the code on disk changes. A change of the
    revision, or of any other field that shapes a worker, starts a new pool of workers.
    """

    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 3
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    runtime: str = "python3.12"
    revision: str = ""

    def __post_init__(self) -> None:
        if not FUNCTION_NAME_PATTERN.fullmatch(self.function_name):
            raise ValueError(
                f"function_name {self.function_name!r} is invalid: Lambda accepts 1 to 64 "
                "letters, digits, hyphens and underscores"
            )
        if not self.handler:
            raise ValueError(f"handler of function {self.function_name} must not be empty")
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(
                f"timeout_s {self.timeout_s} of function {self.function_name} is invalid: "
                f"Lambda accepts more than 0 and at most {MAX_TIMEOUT_S:g} seconds"
            )
        if not MIN_MEMORY_MB <= self.memory_mb <= MAX_MEMORY_MB:
            raise ValueError(
                f"memory_mb {self.memory_mb} of function {self.function_name} is invalid: "
                f"Lambda accepts {MIN_MEMORY_MB} to {MAX_MEMORY_MB} MB"
            )
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ValueError(
                f"reserved_concurrency {self.reserved_concurrency} of function "
                f"{self.function_name} is invalid: it must be 0 or more, or None"
            )

    @property
    def worker_key(self) -> tuple[object, ...]:
        """The fields that shape a worker process. A worker is reused only while they stay equal."""
        return (
            self.revision,
            self.function_arn,
            self.handler,
            str(self.code_dir),
            tuple(str(path) for path in self.layer_dirs),
            tuple(sorted(self.environment.items())),
            self.timeout_s,
            self.memory_mb,
            self.runtime,
        )

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"
