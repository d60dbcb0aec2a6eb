"""Lambda through the local cloud's API: warm workers, errors, timeouts, crashes, throttling."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Cloud, wait_for

pytestmark = pytest.mark.integration


def invoke(cloud: Cloud, logical_id: str, event: dict, **kwargs) -> tuple[dict, dict]:
    response = cloud.client("lambda").invoke(
        FunctionName=cloud.function_name(logical_id),
        Payload=json.dumps(event).encode(),
        LogType="Tail",
        **kwargs,
    )
    return response, json.loads(response["Payload"].read() or b"null")


def test_invoke_keeps_module_state_between_warm_calls(cloud: Cloud) -> None:
    _, first = invoke(cloud, "EchoFunction", {"n": 1})
    _, second = invoke(cloud, "EchoFunction", {"n": 2})

    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1
    assert second["event"] == {"n": 2}


def test_invoke_passes_context_environment_and_layer(cloud: Cloud) -> None:
    response, body = invoke(cloud, "EchoFunction", {})
    name = cloud.function_name("EchoFunction")

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert body["function_name"] == name
    assert body["invoked_function_arn"].endswith(f":function:{name}")
    assert body["memory_limit_in_mb"] == "256"  # a string, as in Lambda's Python runtime
    assert 0 < body["remaining_ms"] <= 10_000
    assert body["greeting"] == "hello"
    assert body["layer"] == "from-layer"
    log_tail = base64.b64decode(response["LogResult"]).decode()
    assert f"REPORT RequestId: {body['request_id']}" in log_tail


def test_invoke_returns_lambda_error_shape_when_handler_raises(cloud: Cloud) -> None:
    response, body = invoke(cloud, "FailFunction", {"name": "shape"})
    log_tail = base64.b64decode(response["LogResult"]).decode()

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "planned failure for shape"
    assert any("fail" in line for line in body["stackTrace"])
    assert "about to fail" in log_tail
    assert "REPORT RequestId:" in log_tail


def test_invoke_times_out_and_next_call_works(cloud: Cloud) -> None:
    response, body = invoke(cloud, "SlowFunction", {"sleep_s": 30})

    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in body["errorMessage"]

    response, body = invoke(cloud, "SlowFunction", {"sleep_s": 0})
    assert "FunctionError" not in response
    assert body["slept_s"] == 0


def test_invoke_reports_worker_killed_mid_invocation(cloud: Cloud, tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    outcome: dict = {}

    def call() -> None:
        outcome["response"], outcome["body"] = invoke(
            cloud, "SlowFunction", {"sleep_s": 1.8, "pid_file": str(pid_file)}
        )

    caller = threading.Thread(target=call)
    caller.start()
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), 10, "worker pid"))
    os.kill(pid, signal.SIGKILL)
    caller.join(timeout=10)

    assert not caller.is_alive()
    assert outcome["response"]["FunctionError"] == "Unhandled"
    assert outcome["body"]["errorType"] == "Runtime.ExitError"
    response, _ = invoke(cloud, "SlowFunction", {"sleep_s": 0})
    assert "FunctionError" not in response


def test_invoke_rejects_function_with_zero_reserved_concurrency(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as raised:
        invoke(cloud, "ThrottledFunction", {})

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_event_invocation_is_retried_twice_on_error(cloud: Cloud) -> None:
    marker = "retry-check-7f3a"
    response = cloud.client("lambda").invoke(
        FunctionName=cloud.function_name("FailFunction"),
        InvocationType="Event",
        Payload=json.dumps({"name": marker}).encode(),
    )

    assert response["StatusCode"] == 202
    wait_for(
        lambda: cloud.function_log("FailFunction").count(f"planned failure for {marker}") >= 3,
        30,
        "three attempts of the failing asynchronous invocation",
    )


def test_awslocal_lambda_invoke_writes_result_file(cloud: Cloud, tmp_path: Path) -> None:
    outfile = tmp_path / "out.json"
    cloud.awslocal(
        "lambda", "invoke",
        "--function-name", cloud.function_name("EchoFunction"),
        "--payload", json.dumps({"via": "awslocal"}),
        str(outfile),
    )  # fmt: skip

    assert json.loads(outfile.read_text())["event"] == {"via": "awslocal"}


def test_function_logs_reach_cloudwatch_logs(cloud: Cloud) -> None:
    invoke(cloud, "FailFunction", {"name": "cloudwatch"})
    logs = cloud.client("logs")
    group = f"/aws/lambda/{cloud.function_name('FailFunction')}"

    def messages() -> list[str]:
        events = logs.filter_log_events(logGroupName=group)["events"]
        return [event["message"] for event in events]

    wait_for(lambda: any("about to fail" in m for m in messages()), 10, "log events")
