"""Nothing is lost across `mhpe cloud down` and `mhpe cloud up`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import deploy_fixture_stack, run_mhpe, start_cloud

pytestmark = pytest.mark.integration


def test_restart_keeps_object_versions_mlflow_and_stack(tmp_path: Path, monkeypatch) -> None:
    from mlflow import MlflowClient

    state_dir = tmp_path / "state"
    first = start_cloud(state_dir)
    try:
        deploy_fixture_stack(first)
        s3 = first.client("s3")
        bucket = first.outputs["OutputBucketName"]
        versions = [
            s3.put_object(Bucket=bucket, Key="kept/data.csv", Body=body)["VersionId"]
            for body in (b"first\n", b"second\n")
        ]
        client = MlflowClient(first.mlflow_url)
        experiment_id = client.create_experiment("kept-experiment")
        run_id = client.create_run(experiment_id).info.run_id
        client.log_metric(run_id, "rmse", 0.125)
    finally:
        run_mhpe(state_dir, "cloud", "down")

    second = start_cloud(state_dir)
    try:
        s3 = second.client("s3")
        listed = s3.list_object_versions(Bucket=bucket, Prefix="kept/")["Versions"]
        bodies = {
            version: s3.get_object(Bucket=bucket, Key="kept/data.csv", VersionId=version)[
                "Body"
            ].read()
            for version in versions
        }
        outputs = json.loads(run_mhpe(state_dir, "outputs", "--stack-name", "itest").stdout)
        functions = second.client("lambda").list_functions()["Functions"]
        metric = MlflowClient(second.mlflow_url).get_run(run_id).data.metrics["rmse"]
    finally:
        run_mhpe(state_dir, "cloud", "down")

    assert sorted(v["VersionId"] for v in listed) == sorted(versions)
    assert bodies == {versions[0]: b"first\n", versions[1]: b"second\n"}
    assert outputs["OutputBucketName"] == bucket
    assert len(functions) >= 7
    assert metric == 0.125
