"""moto's in-process AWS for the pipeline's unit tests, and the committed Ames sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from mhpe.data import read_batch
from mhpe.storage import ObjectStore
from moto import mock_aws

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "ames_sample.csv"
REGION = "us-east-1"
BUCKETS = ("raw", "curated", "quarantine", "models", "reports")
AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def store(s3: Any) -> ObjectStore:
    return ObjectStore(s3)


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    return SAMPLE.read_bytes()


@pytest.fixture(scope="session")
def sample_sales(sample_bytes: bytes) -> pd.DataFrame:
    return read_batch(sample_bytes, name="ames_sample.csv")
