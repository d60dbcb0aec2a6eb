"""Ingest: execution names, quarantine of unusable batches, one execution per version."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from mhpe.pipeline.ingest import EXECUTION_NAME_MAX_LENGTH, execution_name, ingest_batch
from mhpe.pipeline.state import BatchRef
from mhpe.storage import ObjectStore

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


@pytest.fixture
def state_machine_arn(aws: None) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    return boto3.client("stepfunctions").create_state_machine(
        name="pipeline", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]


def _ingest(store: ObjectStore, batch: BatchRef, arn: str) -> Any:
    return ingest_batch(
        batch,
        store=store,
        stepfunctions=boto3.client("stepfunctions"),
        state_machine_arn=arn,
        quarantine_bucket="quarantine",
    )


def _upload(s3: Any, key: str, body: bytes) -> BatchRef:
    version = s3.put_object(Bucket="raw", Key=key, Body=body)["VersionId"]
    return BatchRef(bucket="raw", key=key, version_id=version, size_bytes=len(body))


@pytest.mark.parametrize(
    "key",
    ["batches/2008-06.csv", "batches/" + "x" * 300 + ".parquet", "batches/año 2008 (v2).csv"],
)
def test_execution_name_is_valid(key: str) -> None:
    name = execution_name(BatchRef(bucket="raw", key=key, version_id="3HL4kqtJl.cpXroDT"))

    assert len(name) <= EXECUTION_NAME_MAX_LENGTH
    assert NAME_PATTERN.match(name), name


def test_execution_name_depends_on_version() -> None:
    first = BatchRef(bucket="raw", key="batches/2008-06.csv", version_id="v1")
    second = BatchRef(bucket="raw", key="batches/2008-06.csv", version_id="v2")

    assert execution_name(first) == execution_name(first.model_copy())
    assert execution_name(first) != execution_name(second)
    assert execution_name(first).startswith("2008-06-csv-")


def test_ingest_redelivery_while_running_returns_same_execution(
    s3: Any, store: ObjectStore, state_machine_arn: str, sample_bytes: bytes
) -> None:
    batch = _upload(s3, "batches/2008-06.csv", sample_bytes)

    first = _ingest(store, batch, state_machine_arn)
    # Step Functions returns the running execution for a repeated start with the same name and
    # input, instead of an error.
    second = _ingest(store, batch, state_machine_arn)

    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)
    assert first.status == "started"
    assert first.rows == 332
    assert second.execution_arn == first.execution_arn
    assert len(executions["executions"]) == 1


def test_ingest_redelivery_after_end_starts_nothing(
    s3: Any, store: ObjectStore, state_machine_arn: str, sample_bytes: bytes
) -> None:
    batch = _upload(s3, "batches/2008-06.csv", sample_bytes)
    first = _ingest(store, batch, state_machine_arn)
    boto3.client("stepfunctions").stop_execution(executionArn=first.execution_arn)

    second = _ingest(store, batch, state_machine_arn)

    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)
    assert second.status == "already_started"
    assert second.execution_arn == first.execution_arn
    assert len(executions["executions"]) == 1


def test_ingest_input_carries_batch_location(
    s3: Any, store: ObjectStore, state_machine_arn: str, sample_bytes: bytes
) -> None:
    batch = _upload(s3, "batches/2008-06.csv", sample_bytes)

    outcome = _ingest(store, batch, state_machine_arn)

    description = boto3.client("stepfunctions").describe_execution(
        executionArn=outcome.execution_arn
    )
    state = json.loads(description["input"])
    assert state["batch"]["key"] == "batches/2008-06.csv"
    assert state["batch"]["version_id"] == batch.version_id
    assert state["force"] is False


@pytest.mark.parametrize(
    ("key", "body", "problem"),
    [
        ("batches/2008-06.xlsx", b"x", "extension .xlsx"),
        ("batches/2008-06.csv", b"", "empty"),
        ("batches/2008-06.csv", b"Sale_Price\n100\n", "required columns are missing"),
        ("batches/2008-06.parquet", b"not parquet", "could not be parsed"),
    ],
    ids=["wrong-extension", "empty", "missing-columns", "unreadable"],
)
def test_ingest_quarantines_unusable_batch(
    s3: Any, store: ObjectStore, state_machine_arn: str, key: str, body: bytes, problem: str
) -> None:
    batch = _upload(s3, key, body)

    outcome = _ingest(store, batch, state_machine_arn)

    prefix = f"ingest/{key}/{batch.version_id}/"
    reason = json.loads(store.read_latest("quarantine", prefix + "reason.json").body)
    copied = store.read_latest("quarantine", prefix + key.rsplit("/", 1)[-1])
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)
    assert outcome.status == "quarantined"
    assert problem in reason["reason"]
    assert copied is not None
    assert copied.body == body
    assert executions["executions"] == []


def test_ingest_skips_deleted_version(store: ObjectStore, state_machine_arn: str) -> None:
    batch = BatchRef(bucket="raw", key="batches/gone.csv", version_id="nope")

    outcome = _ingest(store, batch, state_machine_arn)

    assert outcome.status == "missing"
