"""functions/serve/app.py in a fresh interpreter against moto's S3 server.

This is the only test of the handler module itself: its imports (no scikit-learn, no
pandas), its Powertools log lines with the request id as correlation id, and its EMF line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from mhpe.serving.reference_house import REFERENCE_HOUSE
from mhpe.storage import ObjectStore
from mhpe.training import TrainingResult

from tests.serve.conftest import (
    AWS_TEST_ENVIRONMENT,
    MODELS_BUCKET,
    PREDICT_EVENT,
    REGION,
    REPORTS_BUCKET,
    api_event,
)
from tests.serve.serve_support import publish_champion

PROCESS = Path(__file__).with_name("handler_process.py")
HANDLER_TIMEOUT_S = 120
# Packages that must stay off the serve function's import path.
HEAVY_PACKAGES = {"sklearn", "pandas", "scipy", "skl2onnx", "torch", "mlflow", "onnx"}


@pytest.fixture(scope="module")
def handler_run(
    moto_endpoint: str, model_a: TrainingResult, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Publish a champion, then run the handler on a prediction, a bad request and /health."""
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for bucket in (MODELS_BUCKET, REPORTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    publish_champion(ObjectStore(s3), MODELS_BUCKET, model_a, "1")

    folder = tmp_path_factory.mktemp("handler")
    events = [
        PREDICT_EVENT,
        api_event("POST", "/predict", {**REFERENCE_HOUSE, "Lot_Area": -1}, request_id="req-422"),
        api_event("GET", "/health", request_id="req-health"),
    ]
    events_file, result_file = folder / "events.json", folder / "result.json"
    events_file.write_text(json.dumps(events))
    environment = {
        **os.environ,
        **AWS_TEST_ENVIRONMENT,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "MODELS_BUCKET_NAME": MODELS_BUCKET,
        "REPORTS_BUCKET_NAME": REPORTS_BUCKET,
        "AUDIT_LOG_DIR": str(folder / "audit"),
        "POWERTOOLS_SERVICE_NAME": "mhpe",
        "LOG_LEVEL": "INFO",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [sys.executable, str(PROCESS), str(events_file), str(result_file)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=HANDLER_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, f"serve handler failed:\n{completed.stderr}"
    run = json.loads(result_file.read_text())
    run["stdout"] = completed.stdout
    run["stderr"] = completed.stderr
    run["events"] = events
    return run


def _log_lines(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run["stdout"].splitlines() if line.startswith("{")]


def test_handler_imports_no_sklearn_or_pandas(handler_run: dict[str, Any]) -> None:
    prediction = handler_run["results"][0]

    assert prediction["statusCode"] == 200
    assert set(handler_run["packages"]) & HEAVY_PACKAGES == set()


def test_handler_returns_proxy_responses(handler_run: dict[str, Any]) -> None:
    prediction, rejected, health = handler_run["results"]

    assert json.loads(prediction["body"])["model_version"] == "1"
    assert prediction["headers"]["content-type"] == "application/json"
    assert prediction["isBase64Encoded"] is False
    assert rejected["statusCode"] == 422
    assert json.loads(rejected["body"])["errors"][0]["field"] == "Lot_Area"
    assert health["statusCode"] == 200


def test_handler_logs_carry_request_id(handler_run: dict[str, Any]) -> None:
    request_ids = [event["requestContext"]["requestId"] for event in handler_run["events"]]
    logs = [line for line in _log_lines(handler_run) if "level" in line]
    audit = [line for line in logs if line["message"] == "prediction audit"]
    rejection = [line for line in logs if line["message"].startswith("rejected POST")]

    assert [line["correlation_id"] for line in audit] == [request_ids[0]]
    assert audit[0]["audit"]["request_id"] == request_ids[0]
    assert [line["correlation_id"] for line in rejection] == ["req-422"]


def test_handler_prints_emf_per_request(handler_run: dict[str, Any]) -> None:
    emf = [line for line in _log_lines(handler_run) if "route" in line and "_aws" in line]

    assert [line["route"] for line in emf] == ["/predict", "/predict", "/health"]
    assert [line.get("ClientErrors") for line in emf] == [None, [1.0], None]


def test_handler_logs_no_api_key(handler_run: dict[str, Any]) -> None:
    api_key = PREDICT_EVENT["requestContext"]["identity"]["apiKey"]

    assert api_key not in handler_run["stdout"]
    assert api_key not in handler_run["stderr"]
