"""The errors that the runtime raises to its caller, with the Lambda API errors they stand for."""

from __future__ import annotations


class TooManyRequestsError(Exception):
    """A function's reserved concurrency is exhausted: Lambda's 429 TooManyRequestsException.

    `aws_message` and `reason` are the message and Reason that Lambda sends on the wire.
    """

    aws_message = "Rate Exceeded."
    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function_name: str, reserved_concurrency: int) -> None:
        super().__init__(
            f"Rate Exceeded. Function {function_name} has a reserved concurrency of "
            f"{reserved_concurrency}, and that many invocations are running"
        )
        self.function_name = function_name
        self.reserved_concurrency = reserved_concurrency


class InvalidRequestContentError(ValueError):
    """An event that is not JSON: Lambda's 400 InvalidRequestContentException."""


class RequestTooLargeError(ValueError):
    """An event over Lambda's payload limit: Lambda's 413 RequestTooLargeException."""


class RuntimeShutdownError(RuntimeError):
    """An invocation after `Runtime.shutdown`."""
