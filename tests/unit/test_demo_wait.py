"""scripts/demo.py's wait for a champion, on moto's S3 and Step Functions and a real MLflow."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import mlflow
import pytest
from moto import mock_aws

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
MODELS_BUCKET = "models"
MODEL_NAME = "house-price"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/pipeline"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", DEMO_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=MODELS_BUCKET)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
        arn = sfn.create_state_machine(
            name="pipeline", definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        yield s3, sfn, arn


@pytest.fixture
def mlflow_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _publish(s3: Any, mlflow_url: str, tmp_path: Path) -> dict:
    client = mlflow.MlflowClient(tracking_uri=mlflow_url)
    client.create_registered_model(MODEL_NAME)
    version = client.create_model_version(MODEL_NAME, source=str(tmp_path / "model")).version
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    manifest = {"model_name": MODEL_NAME, "version": version, "strategy": "ridge"}
    s3.put_object(Bucket=MODELS_BUCKET, Key="champion/manifest.json", Body=json.dumps(manifest))
    return manifest


def _wait(demo: ModuleType, clients: tuple[Any, Any, str], mlflow_url: str, **options: Any):
    s3, sfn, arn = clients
    return demo.wait_for_champion(
        s3,
        sfn,
        models_bucket=MODELS_BUCKET,
        pipeline_arn=arn,
        mlflow_url=mlflow_url,
        uploads_started_at=time.time(),
        poll_interval_s=0.05,
        **options,
    )


def test_existing_champion_ends_wait(
    demo: ModuleType, clients: tuple[Any, Any, str], mlflow_url: str, tmp_path: Path
) -> None:
    manifest = _publish(clients[0], mlflow_url, tmp_path)
    started = time.monotonic()

    found = _wait(demo, clients, mlflow_url, uploaded=0, timeout_s=5)

    assert found == manifest
    assert time.monotonic() - started < 2


def test_uploads_without_executions_fail_fast(
    demo: ModuleType, clients: tuple[Any, Any, str], mlflow_url: str
) -> None:
    started = time.monotonic()

    with pytest.raises(demo.DemoError, match="only 0 pipeline executions"):
        _wait(demo, clients, mlflow_url, uploaded=3, timeout_s=30, no_execution_timeout_s=0.3)

    assert time.monotonic() - started < 5


def test_missing_champion_is_reported(
    demo: ModuleType, clients: tuple[Any, Any, str], mlflow_url: str
) -> None:
    with pytest.raises(demo.DemoError, match="no champion is published"):
        _wait(demo, clients, mlflow_url, uploaded=0, timeout_s=5)


def test_manifest_without_alias_is_not_a_champion(
    demo: ModuleType, clients: tuple[Any, Any, str], mlflow_url: str
) -> None:
    manifest = {"model_name": MODEL_NAME, "version": "3", "strategy": "ridge"}
    clients[0].put_object(
        Bucket=MODELS_BUCKET, Key="champion/manifest.json", Body=json.dumps(manifest)
    )

    with pytest.raises(demo.DemoError, match="'champion' alias"):
        _wait(demo, clients, mlflow_url, uploaded=0, timeout_s=5)
