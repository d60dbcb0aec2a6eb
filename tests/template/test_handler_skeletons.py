"""The serve and drift handler skeletons, each invoked with its sample event in a fresh interpreter.

The training pipeline's handlers (ingest, validate, train, evaluate, promote) need S3, Step
Functions and MLflow: tests/pipeline runs them on the local cloud, and tests/unit/pipeline
tests their logic against moto.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
