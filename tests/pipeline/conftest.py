"""A local cloud with template.yaml deployed, its functions reading a test configuration.

The stack's ConfigDirectory parameter points the functions at a temporary copy of config/
with the small training configuration of fixtures/config. Functions read their configuration
on every invocation, so a test may rewrite a file there between executions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import REPOSITORY, Cloud, run_mhpe, start_cloud, wait_for

FIXTURE_CONFIG = Path(__file__).parent / "fixtures" / "config"
STACK = "mhpe"
EXECUTION_TIMEOUT_S = 300


def git_commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() if completed.returncode == 0 else "unknown"


@dataclass
class PipelineCloud:
    """The cloud, the deployed stack's outputs and the configuration folder its functions read."""

    cloud: Cloud
    outputs: dict[str, str]
    config_dir: Path

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    @property
    def mlflow_url(self) -> str:
        return self.cloud.mlflow_url

    def set_model_config(self, **changes: Any) -> None:
        """Rewrite model.yaml in the functions' configuration folder with `changes` applied."""
        path = self.config_dir / "model.yaml"
        config = yaml.safe_load((FIXTURE_CONFIG / "model.yaml").read_text())
        config.update(changes)
        path.write_text(yaml.safe_dump(config))

    def upload(self, key: str, body: bytes) -> str | None:
        response = self.client("s3").put_object(
            Bucket=self.outputs["RawBucketName"], Key=key, Body=body
        )
        return response.get("VersionId")

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        arn = self.outputs["TrainingPipelineArn"]
        return sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]

    def wait_for_executions(self, count: int, timeout_s: float = EXECUTION_TIMEOUT_S) -> None:
        """Wait until at least `count` executions exist and none is running."""

        def settled() -> bool:
            executions = self.executions()
            running = [e for e in executions if e["status"] == "RUNNING"]
            return len(executions) >= count and not running

        wait_for(settled, timeout_s, f"{count} executions to finish", interval_s=1)

    def run_execution(self, state: dict[str, Any], name: str) -> dict[str, Any]:
        """Start an execution, wait for its end and return its description."""
        sfn = self.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.outputs["TrainingPipelineArn"],
            name=name,
            input=json.dumps(state),
        )["executionArn"]
        return self.wait_for_execution(arn)

    def wait_for_execution(self, arn: str, timeout_s: float = EXECUTION_TIMEOUT_S) -> dict:
        sfn = self.client("stepfunctions")

        def finished() -> dict | None:
            description = sfn.describe_execution(executionArn=arn)
            return description if description["status"] != "RUNNING" else None

        return wait_for(finished, timeout_s, f"execution {arn} to finish", interval_s=0.5)

    def read_json(self, bucket_output: str, key: str) -> Any:
        body = self.client("s3").get_object(Bucket=self.outputs[bucket_output], Key=key)["Body"]
        return json.loads(body.read())

    def keys(self, bucket_output: str, prefix: str = "") -> list[str]:
        s3 = self.client("s3")
        response = s3.list_objects_v2(Bucket=self.outputs[bucket_output], Prefix=prefix)
        return sorted(entry["Key"] for entry in response.get("Contents", []))


def deploy_pipeline(state_dir: Path, config_dir: Path) -> PipelineCloud:
    cloud = start_cloud(state_dir)
    cloud.mhpe(
        "deploy",
        "--stack-name", STACK,
        "--parameter-overrides", f"ConfigDirectory={config_dir}",
        "--parameter-overrides", f"GitCommit={git_commit()}",
    )  # fmt: skip
    outputs = json.loads(cloud.mhpe("outputs", "--stack-name", STACK).stdout)
    return PipelineCloud(cloud, outputs, config_dir)


def make_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config_dir = tmp_path_factory.mktemp("config")
    shutil.copy(REPOSITORY / "config" / "quality.yaml", config_dir / "quality.yaml")
    for name in ("model.yaml", "pipeline.yaml"):
        shutil.copy(FIXTURE_CONFIG / name, config_dir / name)
    return config_dir


@pytest.fixture(scope="module")
def pipeline_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineCloud]:
    """A fresh cloud per test module, so that each module starts with no champion."""
    state_dir = tmp_path_factory.mktemp("localcloud")
    started = time.monotonic()
    deployed = deploy_pipeline(state_dir, make_config_dir(tmp_path_factory))
    print(f"local cloud up and stack deployed in {time.monotonic() - started:.1f} s")
    try:
        yield deployed
    finally:
        run_mhpe(state_dir, "cloud", "down", check=False)
