"""moto's in-process AWS for the drift unit tests: the product's buckets and a state machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from mhpe.drift import DriftResources, DriftSettings, load_drift_settings
from mhpe.storage import ObjectStore
from moto import mock_aws

REGION = "us-east-1"
BUCKETS = ("curated", "models", "reports")
AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
PASS_DEFINITION = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def store(aws: None) -> ObjectStore:
    client = boto3.client("s3", region_name=REGION)
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return ObjectStore(client)


@pytest.fixture
def stepfunctions(aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def resources(stepfunctions: Any) -> DriftResources:
    arn = stepfunctions.create_state_machine(
        name="training-pipeline",
        definition=PASS_DEFINITION,
        roleArn="arn:aws:iam::123456789012:role/pipeline",
    )["stateMachineArn"]
    return DriftResources(
        reports_bucket="reports",
        curated_bucket="curated",
        models_bucket="models",
        training_pipeline_arn=arn,
    )


@pytest.fixture
def settings() -> DriftSettings:
    return load_drift_settings()
