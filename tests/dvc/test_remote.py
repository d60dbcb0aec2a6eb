"""`mhpe data push` and `mhpe data pull` against the local cloud's S3."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import boto3

from .conftest import DVC_EXECUTABLE, Cloud, Workspace, check, file_md5s, free_port


def count_objects(cloud: Cloud, bucket: str) -> int:
    s3 = boto3.client(
        "s3",
        endpoint_url=cloud.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def test_push_then_pull_restores_batches(
    cloud: Cloud, make_workspace: Callable[[str], Workspace]
) -> None:
    workspace = make_workspace("round-trip")
    workspace.use_remote(cloud.endpoint_url, "mhpe-dvc-round-trip")
    workspace.fetch()
    fetched = file_md5s(workspace.batches)

    pushed = check(workspace.mhpe("data", "push", "--dvc", str(DVC_EXECUTABLE)))
    shutil.rmtree(workspace.batches)
    shutil.rmtree(workspace.cache)
    pulled = check(workspace.mhpe("data", "pull", "--dvc", str(DVC_EXECUTABLE), "data/batches.dvc"))

    assert "created bucket mhpe-dvc-round-trip" in pushed.stdout
    # 110 batch files and the directory listing that data/batches.dvc names.
    assert count_objects(cloud, "mhpe-dvc-round-trip") == 111
    assert "110 files" in pulled.stdout
    assert file_md5s(workspace.batches) == fetched
    assert workspace.status("data/batches.dvc") == {}


def test_push_twice_reuses_bucket(cloud: Cloud, make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("twice")
    workspace.use_remote(cloud.endpoint_url, "mhpe-dvc-twice")
    workspace.fetch()
    check(workspace.mhpe("data", "push", "--dvc", str(DVC_EXECUTABLE)))

    again = check(workspace.mhpe("data", "push", "--dvc", str(DVC_EXECUTABLE)))

    assert "created bucket" not in again.stdout
    assert count_objects(cloud, "mhpe-dvc-twice") == 111


def test_pull_from_missing_bucket_fails(
    cloud: Cloud, make_workspace: Callable[[str], Workspace]
) -> None:
    workspace = make_workspace("missing")
    workspace.use_remote(cloud.endpoint_url, "mhpe-dvc-missing")

    result = workspace.mhpe("data", "pull", "--dvc", str(DVC_EXECUTABLE))

    assert result.returncode == 1
    assert f"bucket mhpe-dvc-missing at {cloud.endpoint_url} not found" in result.stderr


def test_push_without_cloud_names_endpoint(make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("no-cloud")
    endpoint_url = f"http://127.0.0.1:{free_port()}"
    workspace.use_remote(endpoint_url, "mhpe-dvc")

    result = workspace.mhpe("data", "push", "--dvc", str(DVC_EXECUTABLE))

    assert result.returncode == 1
    assert f"cannot reach S3 at {endpoint_url}" in result.stderr


def test_push_with_missing_dvc_names_path(make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("no-dvc")
    missing = workspace.root / "no-such-dvc"

    result = workspace.mhpe("data", "push", "--dvc", str(missing))

    assert result.returncode == 1
    assert f"DVC executable {missing} not found" in result.stderr
