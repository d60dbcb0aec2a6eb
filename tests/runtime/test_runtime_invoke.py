"""Synchronous invocations on real worker processes: warm reuse, context, environment, errors."""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.localcloud.runtime import (
    FunctionSpec,
    InvalidRequestContentError,
    Runtime,
    RuntimeShutdownError,
)
from tests.runtime.runtime_support import BASE_ENVIRONMENT, HANDLERS_DIR, LAYER_DIR, SpecFactory


def invoke_json(runtime: Runtime, spec: FunctionSpec, event: dict) -> dict:
    return json.loads(runtime.invoke(spec, json.dumps(event).encode()).payload)


def test_warm_worker_keeps_module_state(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("counter", "counter.handler")

    results = [runtime.invoke(spec, b"{}") for _ in range(3)]
    payloads = [json.loads(result.payload) for result in results]

    assert [payload["calls"] for payload in payloads] == [1, 2, 3]
    assert len({payload["pid"] for payload in payloads}) == 1
    assert [result.cold_start for result in results] == [True, False, False]
    assert all(result.function_error is None for result in results)


def test_init_output_precedes_first_start(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("counter", "counter.handler")

    lines = runtime.invoke(spec, b"{}").log_result.splitlines()

    assert lines[0] == "INIT_START Runtime Version: python3.12"
    assert lines[1] == "counter module imported"
    assert lines[2].startswith("START RequestId: ")


def test_stats_count_cold_and_warm_starts(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("counter", "counter.handler")

    for _ in range(3):
        runtime.invoke(spec, b"{}")
    stats = runtime.stats("counter")

    assert stats["cold_starts"] == 1
    assert stats["warm_starts"] == 2
    assert stats["invocations"] == 3
    assert stats["running"] == 0
    assert stats["idle_workers"] == 1
    assert stats["queued"] == 0
    assert runtime.stats("never-invoked")["cold_starts"] == 0


def test_context_fields_and_remaining_time(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec(
        "inspect", "inspect_context.handler", layer_dirs=(LAYER_DIR,), timeout_s=5, memory_mb=256
    )

    result = runtime.invoke(spec, json.dumps({"sleep_s": 0.2}).encode())
    context = json.loads(result.payload)

    assert context["aws_request_id"] == result.request_id
    assert context["function_name"] == "inspect"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == spec.function_arn
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/inspect"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 4_000 < context["first_remaining_ms"] <= 5_000
    assert context["first_remaining_ms"] - context["second_remaining_ms"] >= 150


def test_request_id_is_passed_through(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("inspect", "inspect_context.handler", layer_dirs=(LAYER_DIR,))

    result = runtime.invoke(spec, b"{}", request_id="my-request-1")

    assert result.request_id == "my-request-1"
    assert json.loads(result.payload)["aws_request_id"] == "my-request-1"


def test_environment_layers_and_working_directory(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec(
        "inspect",
        "inspect_context.handler",
        layer_dirs=(LAYER_DIR,),
        environment={
            "MODEL_NAME": "ames-price",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_LAMBDA_FUNCTION_NAME": "spoofed",
        },
        timeout_s=7,
        memory_mb=512,
    )

    seen = invoke_json(runtime, spec, {})
    environment = seen["environment"]

    assert environment["MODEL_NAME"] == "ames-price"
    assert environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_SECRET_ACCESS_KEY"] == BASE_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"]
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "inspect"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert environment["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/inspect"
    assert environment["AWS_LAMBDA_LOG_STREAM_NAME"] == seen["log_stream_name"]
    assert environment["LAMBDA_TASK_ROOT"] == str(HANDLERS_DIR)
    assert environment["_HANDLER"] == "inspect_context.handler"
    assert environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert environment["AWS_EC2_METADATA_DISABLED"] == "true"
    assert not any(name.startswith("_MHPE_RUNTIME") for name in environment)
    assert seen["cwd"] == str(HANDLERS_DIR)
    assert seen["sys_path"][:2] == [str(HANDLERS_DIR), str(LAYER_DIR)]
    assert seen["greeting"] == "hello from the layer, Ames"


def test_handler_error_returns_lambda_document(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("raises", "raises.handler")

    result = runtime.invoke(spec, json.dumps({"price": -5}).encode())
    document = json.loads(result.payload)

    assert result.function_error == "Unhandled"
    assert document["errorType"] == "ValueError"
    assert document["errorMessage"] == "price -5 must be positive"
    assert document["requestId"] == result.request_id
    assert len(document["stackTrace"]) == 2
    assert 'raises.py", line' in document["stackTrace"][0]
    assert "in check_price" in document["stackTrace"][1]
    assert "[ERROR] ValueError: price -5 must be positive" in result.log_result


def test_handler_error_keeps_worker_warm(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("raises", "raises.handler")

    failed = runtime.invoke(spec, json.dumps({"price": -5}).encode())
    succeeded = runtime.invoke(spec, json.dumps({"price": 180_000}).encode())

    assert failed.function_error == "Unhandled"
    assert succeeded.function_error is None
    assert json.loads(succeeded.payload) == {"price": 180_000}
    assert succeeded.cold_start is False
    assert runtime.stats("raises")["cold_starts"] == 1
    assert runtime.stats("raises")["errors"] == 1


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "broken_import.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'broken_import': No module named 'module_that_does_not_exist'",
        ),
        (
            "counter.no_such_handler",
            "Runtime.HandlerNotFound",
            "Handler 'no_such_handler' missing on module 'counter'",
        ),
        ("counter", "Runtime.MalformedHandlerName", "Bad handler 'counter'"),
        (
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
    ],
)
def test_init_error_is_returned_as_lambda_does(
    runtime: Runtime, make_spec: SpecFactory, handler: str, error_type: str, message: str
) -> None:
    spec = make_spec("init-fails", handler)

    first = runtime.invoke(spec, b"{}")
    second = runtime.invoke(spec, b"{}")
    document = json.loads(first.payload)

    assert first.function_error == "Unhandled"
    assert document["errorType"] == error_type
    assert document["errorMessage"].startswith(message)
    assert document["requestId"] == ""
    assert f"[ERROR] {error_type}" in first.log_result
    assert f"Status: error Error Type: {error_type}" in first.log_result
    assert second.cold_start is True
    assert runtime.stats("init-fails")["idle_workers"] == 0


def test_module_errors_at_import_are_reported(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    (tmp_path / "bad_syntax.py").write_text("def handler(event, context)\n    return 1\n")
    (tmp_path / "raises_at_import.py").write_text(
        "def load():\n    raise KeyError('MODEL_URI')\n\n\nload()\n"
    )

    syntax = json.loads(
        runtime.invoke(make_spec("syntax", "bad_syntax.handler", code_dir=tmp_path), b"{}").payload
    )
    raised = json.loads(
        runtime.invoke(
            make_spec("import-raises", "raises_at_import.handler", code_dir=tmp_path), b"{}"
        ).payload
    )

    assert syntax["errorType"] == "Runtime.UserCodeSyntaxError"
    assert syntax["errorMessage"].startswith("Syntax error in module 'bad_syntax': ")
    assert "bad_syntax.py" in syntax["stackTrace"][0]
    assert raised["errorType"] == "KeyError"
    assert raised["errorMessage"] == "'MODEL_URI'"
    assert raised["requestId"] == ""
    assert [entry.split(", in ")[-1].split("\n")[0] for entry in raised["stackTrace"]] == [
        "<module>",
        "load",
    ]


def test_unserializable_result_is_marshal_error(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("marshal", "misbehaves.return_datetime")

    result = runtime.invoke(spec, b"{}")
    document = json.loads(result.payload)

    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Runtime.MarshalError"
    assert "datetime is not JSON serializable" in document["errorMessage"]


def test_invalid_json_event_is_rejected(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("counter", "counter.handler")

    with pytest.raises(InvalidRequestContentError, match="counter is not valid JSON"):
        runtime.invoke(spec, b"{not json")


def test_log_lines_of_one_invocation(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    shipped: list[tuple[str, list[str]]] = []
    runtime = Runtime(
        tmp_path / "sink-logs",
        BASE_ENVIRONMENT,
        log_sink=lambda spec, request_id, lines: shipped.append((request_id, lines)),
    )
    spec = make_spec("logs", "misbehaves.log_and_print")
    try:
        cold = runtime.invoke(spec, b"{}")
        warm = runtime.invoke(spec, b"{}")
    finally:
        runtime.shutdown()
    lines = warm.log_result.splitlines()
    request_id = warm.request_id

    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[1] == "to stdout"
    assert lines[2] == "to stderr"
    assert lines[3].startswith("[INFO]\t")
    assert lines[3].endswith(f"\t{request_id}\tlogged at info")
    assert lines[4] == f"END RequestId: {request_id}"
    assert lines[5].startswith(f"REPORT RequestId: {request_id} Duration: ")
    assert "Billed Duration: " in lines[5]
    assert "Memory Size: 128 MB Max Memory Used: " in lines[5]
    assert "Init Duration" not in lines[5]
    assert len(lines) == 6
    assert cold.log_result.startswith("INIT_START Runtime Version: python3.12\n")
    assert "Init Duration: " in cold.log_result.splitlines()[-1]
    assert shipped == [
        (cold.request_id, cold.log_result.splitlines()),
        (request_id, lines),
    ]
    log_file = (tmp_path / "sink-logs" / "logs.log").read_text()
    assert log_file == cold.log_result + warm.log_result


def test_output_larger_than_pipe_buffer(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("chatty", "misbehaves.print_a_lot")

    result = runtime.invoke(spec, json.dumps({"lines": 5_000}).encode())
    printed = [line for line in result.log_result.splitlines() if line.startswith("line ")]

    assert json.loads(result.payload) == {"printed": 5_000}
    assert len(printed) == 5_000
    assert printed[-1].startswith("line 004999 ")


def test_concurrent_invocations_from_threads(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("sleeper", "misbehaves.sleep", timeout_s=10)
    event = json.dumps({"sleep_s": 0.2}).encode()

    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(executor.map(lambda _: runtime.invoke(spec, event), range(8)))
    stats = runtime.stats("sleeper")

    assert all(result.function_error is None for result in results)
    assert len({result.request_id for result in results}) == 8
    assert stats["cold_starts"] <= 4
    assert stats["cold_starts"] + stats["warm_starts"] == 8
    assert stats["running"] == 0


def test_warm_invocation_overhead_is_small(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("counter", "counter.handler")
    runtime.invoke(spec, b"{}")

    durations_ms = []
    for _ in range(50):
        started = time.perf_counter()
        runtime.invoke(spec, b"{}")
        durations_ms.append((time.perf_counter() - started) * 1000)

    # A loose bound that still catches a wait on a poll slice (50 ms) in the warm path.
    assert statistics.median(durations_ms) < 25


def test_invoke_after_shutdown_raises(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("counter", "counter.handler")
    pid = invoke_json(runtime, spec, {})["pid"]

    runtime.shutdown()

    with pytest.raises(RuntimeShutdownError):
        runtime.invoke(spec, b"{}")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
