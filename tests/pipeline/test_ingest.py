"""Ingest on the local cloud: one execution per object version, unusable batches quarantined."""

from __future__ import annotations

import json

import pytest
from mhpe.pipeline.ingest import execution_name
from mhpe.pipeline.state import BatchRef

from tests.integration.conftest import wait_for
from tests.pipeline.conftest import PipelineCloud
from tests.pipeline.pipeline_support import (
    csv_bytes,
    function_name,
    month_batch,
    parquet_bytes,
    s3_put_event,
)

pytestmark = pytest.mark.integration


def _invoke_ingest(pipeline_cloud: PipelineCloud, event: dict) -> dict:
    name = function_name(pipeline_cloud.cloud.state_dir, "IngestFunction")
    response = pipeline_cloud.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def test_ingest_starts_one_execution_per_version(pipeline_cloud: PipelineCloud) -> None:
    body = csv_bytes(month_batch("2008-01"))
    key = "batches/2008-01.csv"
    bucket = pipeline_cloud.outputs["RawBucketName"]
    version_id = pipeline_cloud.upload(key, body)
    expected_name = execution_name(BatchRef(bucket=bucket, key=key, version_id=version_id))

    def started() -> list[dict]:
        return [e for e in pipeline_cloud.executions() if e["name"] == expected_name]

    (execution,) = wait_for(started, 60, f"execution {expected_name}")
    pipeline_cloud.wait_for_execution(execution["executionArn"])

    # S3 delivers at least once: the same notification again must start nothing new.
    redelivered = _invoke_ingest(pipeline_cloud, s3_put_event(bucket, key, version_id, len(body)))

    (outcome,) = redelivered["batches"]
    assert outcome["status"] == "already_started"
    assert outcome["execution_name"] == expected_name
    assert len(started()) == 1


def test_ingest_starts_new_execution_for_new_version(pipeline_cloud: PipelineCloud) -> None:
    key = "batches/2008-02.parquet"
    first = pipeline_cloud.upload(key, parquet_bytes(month_batch("2008-02")))
    second = pipeline_cloud.upload(key, parquet_bytes(month_batch("2008-02").head(40)))
    bucket = pipeline_cloud.outputs["RawBucketName"]
    names = {
        execution_name(BatchRef(bucket=bucket, key=key, version_id=version))
        for version in (first, second)
    }

    def both_started() -> bool:
        return names <= {e["name"] for e in pipeline_cloud.executions()}

    wait_for(both_started, 60, f"executions {names}")
    assert first != second
    assert len(names) == 2


@pytest.mark.parametrize(
    ("key", "body", "problem"),
    [
        ("batches/2008-03.txt", b"Sale_Price\n1\n", "extension .txt"),
        ("batches/2008-04.csv", b"", "empty"),
        ("batches/2008-05.csv", b"Sale_Price,Gr_Liv_Area\n200000,1500\n", "required columns"),
        ("batches/2008-06.parquet", b"PAR1 this is not parquet", "could not be parsed"),
    ],
    ids=["wrong-extension", "empty", "missing-columns", "unreadable"],
)
def test_ingest_quarantines_unusable_batch(
    pipeline_cloud: PipelineCloud, key: str, body: bytes, problem: str
) -> None:
    version_id = pipeline_cloud.upload(key, body)
    prefix = f"ingest/{key}/{version_id}/"

    keys = wait_for(
        lambda: pipeline_cloud.keys("QuarantineBucketName", prefix) or None,
        60,
        f"quarantine of {key}",
    )
    reason = pipeline_cloud.read_json("QuarantineBucketName", prefix + "reason.json")

    assert prefix + key.rsplit("/", 1)[-1] in keys
    assert problem in reason["reason"]
    assert key in reason["reason"]
    bucket = pipeline_cloud.outputs["RawBucketName"]
    name = execution_name(BatchRef(bucket=bucket, key=key, version_id=version_id))
    assert name not in {e["name"] for e in pipeline_cloud.executions()}
