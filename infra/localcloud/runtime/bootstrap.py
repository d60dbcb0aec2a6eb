"""The worker process of one function: import its handler once, then serve invocations.

The runtime starts this file as a script with the function's own environment, its code
folder as the working directory, and PYTHONPATH set to the code folder, then the layers.
Requests arrive on one pipe and results leave on another, whose descriptors the runtime
passes in the environment, so that stdout and stderr carry only the function's log, as on
Lambda. The file imports only the standard library before the handler is imported.

Error documents, their messages and the log format follow awslambdaric, the runtime
interface client of AWS's Python runtimes (aws/aws-lambda-python-runtime-interface-client).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__:
    from . import wire
else:
    _wire_spec = importlib.util.spec_from_file_location(
        "_mhpe_runtime_wire", Path(__file__).with_name("wire.py")
    )
    assert _wire_spec is not None and _wire_spec.loader is not None
    wire = importlib.util.module_from_spec(_wire_spec)
    _wire_spec.loader.exec_module(wire)

Handler = Callable[[Any, "LambdaContext"], Any]

# The request id of the invocation in progress, for the log records of the root logger.
_current_request_id = ""


class LambdaContext:
    """The context object passed to a handler, with the attributes of Lambda's Python runtime.

    As in awslambdaric, `memory_limit_in_mb` is a string: AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    """

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        remaining_ms = self._deadline_ms - int(time.time() * 1000)
        return max(remaining_ms, 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)
        sys.stdout.flush()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


class _InitError(Exception):
    """A failure to load the handler, with the error document that Lambda returns for it."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__(document["errorMessage"])
        self.document = document


def _configure_logging() -> None:
    # Lambda's Python runtime gives the root logger one handler with this tab-separated
    # format, in UTC. It sets the root level only when AWS_LAMBDA_LOG_LEVEL is set, so the
    # level stays at WARNING by default.
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)


def _error_document(
    error_type: str, message: str, stack_trace: list[str], request_id: str = ""
) -> dict[str, Any]:
    """Build Lambda's error document. Init errors have no request, so their requestId is ""."""
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack_trace,
    }


def _user_stack_trace(error: BaseException) -> list[str]:
    """Format the traceback of `error` without the frames of this file and of importlib."""
    importlib_folder = os.path.dirname(importlib.__file__)
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != __file__
        and not frame.filename.startswith("<frozen importlib")
        and os.path.dirname(frame.filename) != importlib_folder
    ]
    return traceback.format_list(frames)


def _log_error(document: dict[str, Any]) -> None:
    lines = [f"[ERROR] {document['errorType']}: {document['errorMessage']}"]
    if document["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in document["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")


def _import_handler(handler_name: str) -> Handler:
    """Import the handler's module and return the handler, or raise _InitError as Lambda does."""
    try:
        module_path, function_name = handler_name.rsplit(".", 1)
    except ValueError as error:
        message = f"Bad handler '{handler_name}': {error}"
        raise _InitError(_error_document("Runtime.MalformedHandlerName", message, [])) from None
    if module_path.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_path} as a handler module"
        raise _InitError(_error_document("Runtime.BuiltInModuleConflict", message, []))

    try:
        module: ModuleType = importlib.import_module(module_path.replace("/", "."))
    except ImportError as error:
        message = f"Unable to import module '{module_path}': {error}"
        raise _InitError(_error_document("Runtime.ImportModuleError", message, [])) from None
    except SyntaxError as error:
        message = f"Syntax error in module '{module_path}': {error}"
        where = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise _InitError(_error_document("Runtime.UserCodeSyntaxError", message, where)) from None
    except Exception as error:  # noqa: BLE001 - Lambda reports any error of the module's code
        document = _error_document(type(error).__name__, str(error), _user_stack_trace(error))
        raise _InitError(document) from None

    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_path}'"
        raise _InitError(_error_document("Runtime.HandlerNotFound", message, []))
    return handler


def _end_log(tag: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    wire.write_all(1, wire.log_marker(tag))


def _max_rss_kb() -> int:
    # Linux keeps ru_maxrss across execve, so a worker started by a large process (the local
    # cloud's server) would inherit its parent's peak. VmHWM belongs to this program image.
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # getrusage(2) gives ru_maxrss in kilobytes on Linux and in bytes on macOS.
    return max_rss // 1024 if sys.platform == "darwin" else max_rss


def _invoke(
    handler: Handler, header: dict[str, Any], event_bytes: bytes
) -> tuple[bytes, str | None]:
    """Run the handler on one event and return its JSON result or error document and error type."""
    request_id = header["request_id"]
    context = LambdaContext(request_id, header["invoked_function_arn"], header["deadline_ms"])
    try:
        result = handler(json.loads(event_bytes), context)
    except Exception as error:  # noqa: BLE001 - Lambda returns any handler error to the caller
        document = _error_document(
            type(error).__name__, str(error), _user_stack_trace(error), request_id
        )
        _log_error(document)
        return json.dumps(document).encode(), document["errorType"]

    try:
        payload = json.dumps(result, ensure_ascii=False).encode()
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        document = _error_document("Runtime.MarshalError", message, [], request_id)
        _log_error(document)
        return json.dumps(document).encode(), document["errorType"]
    return payload, None


def main() -> int:
    global _current_request_id

    request_fd = int(os.environ.pop(wire.REQUEST_FD_VARIABLE))
    response_fd = int(os.environ.pop(wire.RESPONSE_FD_VARIABLE))
    os.set_inheritable(request_fd, False)
    os.set_inheritable(response_fd, False)
    runtime_folder = str(Path(__file__).resolve().parent)
    sys.path[:] = [entry for entry in sys.path if entry != runtime_folder]
    _configure_logging()

    try:
        handler = _import_handler(os.environ["_HANDLER"])
    except _InitError as error:
        _log_error(error.document)
        _end_log(wire.INIT_TAG)
        header = {"type": wire.INIT_ERROR, "max_rss_kb": _max_rss_kb()}
        wire.write_all(response_fd, wire.encode_frame(header, json.dumps(error.document).encode()))
        return 0
    _end_log(wire.INIT_TAG)
    ready_header = {"type": wire.READY, "max_rss_kb": _max_rss_kb()}
    wire.write_all(response_fd, wire.encode_frame(ready_header))

    while True:
        frame = wire.read_frame(request_fd)
        if frame is None:
            return 0
        header, event_bytes = frame
        _current_request_id = header["request_id"]
        started = time.perf_counter()
        payload, error_type = _invoke(handler, header, event_bytes)
        duration_ms = (time.perf_counter() - started) * 1000
        _end_log(header["request_id"])
        _current_request_id = ""
        result_header = {
            "type": wire.RESULT,
            "error_type": error_type,
            "duration_ms": duration_ms,
            "max_rss_kb": _max_rss_kb(),
        }
        wire.write_all(response_fd, wire.encode_frame(result_header, payload))


if __name__ == "__main__":
    sys.exit(main())
