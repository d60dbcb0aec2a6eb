"""Runs Lambda functions in warm pools of local worker processes, without Docker.

The package never imports moto, functions/ or layers/: it loads each handler by name from the
function's code folder and layers, as Lambda does.
"""

from infra.localcloud.runtime.errors import (
    InvalidRequestContentError,
    RequestTooLargeError,
    RuntimeShutdownError,
    TooManyRequestsError,
)
from infra.localcloud.runtime.pool import Runtime
from infra.localcloud.runtime.result import InvocationResult
from infra.localcloud.runtime.spec import FunctionSpec

__all__ = [
    "FunctionSpec",
    "InvalidRequestContentError",
    "InvocationResult",
    "RequestTooLargeError",
    "Runtime",
    "RuntimeShutdownError",
    "TooManyRequestsError",
]
