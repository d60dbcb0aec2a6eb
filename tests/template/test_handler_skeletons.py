"""The handler skeletons, each invoked with its sample event in a fresh interpreter."""

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.template.template_support import AWS_TEST_ENVIRONMENT, REPO_ROOT, load_event

RUNNER = Path(__file__).with_name("handler_runner.py")
INVOKE_TIMEOUT_S = 60
HANDLER_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "mhpe",
    "LOG_LEVEL": "INFO",
    "STAGE": "dev",
    "RAW_BUCKET_NAME": "mhpe-dev-raw-123456789012-us-east-1",
    "CURATED_BUCKET_NAME": "mhpe-dev-curatedbucket",
    "QUARANTINE_BUCKET_NAME": "mhpe-dev-quarantinebucket",
    "MODELS_BUCKET_NAME": "mhpe-dev-modelsbucket",
    "REPORTS_BUCKET_NAME": "mhpe-dev-reportsbucket",
}


@dataclass(frozen=True)
class Invocation:
    result: Any
    request_id: str
    log_records: list[dict[str, Any]]


def _invoke(function: str, event: dict[str, Any], tmp_path: Path) -> Invocation:
    """Run functions/FUNCTION's handler on the event in a subprocess and collect its logs."""
    event_file = tmp_path / f"{function}-event.json"
    result_file = tmp_path / f"{function}-result.json"
    event_file.write_text(json.dumps(event))
    environment = {**os.environ, **AWS_TEST_ENVIRONMENT, **HANDLER_ENVIRONMENT}
    # No __pycache__ in functions/, so that a later `sam build` or deploy zips only the source.
    environment["PYTHONDONTWRITEBYTECODE"] = "1"

    completed = subprocess.run(
        [sys.executable, str(RUNNER), str(REPO_ROOT / "functions" / function), str(event_file),
         str(result_file)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=INVOKE_TIMEOUT_S,
        check=False,
    )  # fmt: skip

    assert completed.returncode == 0, f"{function} handler failed:\n{completed.stderr}"
    outcome = json.loads(result_file.read_text())
    log_records = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return Invocation(outcome["result"], outcome["request_id"], log_records)


def test_ingest_returns_uploaded_batch(tmp_path: Path) -> None:
    invocation = _invoke("ingest", load_event("ingest_s3_put.json"), tmp_path)

    assert invocation.result == {
        "batches": [
            {
                "bucket": "mhpe-dev-raw-123456789012-us-east-1",
                "key": "batches/2008-06.csv",
                "version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
                "size_bytes": 47001,
            }
        ]
    }
    assert invocation.log_records[0]["function_request_id"] == invocation.request_id


@pytest.mark.parametrize(
    ("encoded_key", "key"),
    [
        ("batches/2008-06+resubmitted.csv", "batches/2008-06 resubmitted.csv"),
        ("batches%2F2008-06.csv", "batches/2008-06.csv"),
        ("batches/2008-06%28v2%29.parquet", "batches/2008-06(v2).parquet"),
    ],
)
def test_ingest_decodes_object_key(tmp_path: Path, encoded_key: str, key: str) -> None:
    event = load_event("ingest_s3_put.json")
    event["Records"][0]["s3"]["object"]["key"] = encoded_key

    invocation = _invoke("ingest", event, tmp_path)

    assert invocation.result["batches"][0]["key"] == key


@pytest.mark.parametrize(
    ("function", "event_name"),
    [
        ("validate", "validate.json"),
        ("train", "train.json"),
        ("evaluate", "evaluate.json"),
        ("promote", "promote.json"),
    ],
)
def test_pipeline_step_echoes_input(tmp_path: Path, function: str, event_name: str) -> None:
    event = load_event(event_name)

    invocation = _invoke(function, copy.deepcopy(event), tmp_path)

    assert invocation.result == {"step": function, "input": event}
    assert invocation.log_records, f"{function} logged nothing"
    for record in invocation.log_records:
        assert record["correlation_id"] == event["execution"]["arn"], record


def test_serve_health_returns_ok(tmp_path: Path) -> None:
    event = load_event("serve_health.json")

    invocation = _invoke("serve", event, tmp_path)
    response = invocation.result

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"status": "ok"}


def test_serve_predict_without_model_returns_503(tmp_path: Path) -> None:
    event = load_event("serve_predict.json")

    invocation = _invoke("serve", event, tmp_path)
    response = invocation.result

    assert response["statusCode"] == 503
    assert json.loads(response["body"]) == {"message": "no model promoted yet"}
    request_id = event["requestContext"]["requestId"]
    assert invocation.log_records, "serve logged nothing for a rejected request"
    for record in invocation.log_records:
        assert record["correlation_id"] == request_id, record


def test_serve_logs_no_api_key(tmp_path: Path) -> None:
    event = load_event("serve_predict.json")
    api_key = event["requestContext"]["identity"]["apiKey"]

    invocation = _invoke("serve", event, tmp_path)

    assert api_key not in json.dumps(invocation.log_records)


def test_drift_not_yet_evaluated(tmp_path: Path) -> None:
    event = load_event("drift_schedule.json")

    invocation = _invoke("drift", event, tmp_path)

    assert invocation.result == {"drift": "not yet evaluated"}
    assert invocation.log_records, "drift logged nothing"
    for record in invocation.log_records:
        assert record["correlation_id"] == event["id"], record
