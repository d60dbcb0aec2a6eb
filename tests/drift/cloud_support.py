"""The local cloud for the drift tests: template.yaml deployed with a generous usage plan.

The functions read a temporary config folder: the pipeline tests' small ridge training, their
pipeline settings (uploads never train on their own) and the shipped drift.yaml.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.conftest import REPOSITORY, Cloud, start_cloud, wait_for
from tests.pipeline.conftest import FIXTURE_CONFIG

STACK = "mhpe"
STAGE = "dev"
DRIFT_SCHEDULE = f"mhpe-{STAGE}-drift-schedule"
SUMMARY_SUFFIX = "/summary.json"
# Replays send a few hundred houses; the product's 100 per minute would take minutes.
API_PARAMETERS = {"ApiRateLimit": "200", "ApiBurstLimit": "50", "ApiQuotaLimit": "100000"}


def make_config_dir(directory: Path) -> Path:
    shutil.copy(REPOSITORY / "config" / "quality.yaml", directory / "quality.yaml")
    shutil.copy(REPOSITORY / "config" / "drift.yaml", directory / "drift.yaml")
    for name in ("model.yaml", "pipeline.yaml"):
        shutil.copy(FIXTURE_CONFIG / name, directory / name)
    return directory


@dataclass
class DriftCloud:
    """The cloud, the deployed stack's record and outputs."""

    cloud: Cloud
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def resource_name(self, logical_id: str) -> str:
        record = json.loads((self.cloud.state_dir / "stacks" / f"{STACK}.json").read_text())
        return record["resources"][logical_id]["PhysicalResourceId"]

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        arn = self.outputs["TrainingPipelineArn"]
        return sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]

    def wait_for_execution(self, arn: str, timeout_s: float = 300) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def finished() -> dict[str, Any] | None:
            description = sfn.describe_execution(executionArn=arn)
            return description if description["status"] != "RUNNING" else None

        return wait_for(finished, timeout_s, f"execution {arn} to finish", interval_s=0.5)

    def wait_until_settled(self, count: int, timeout_s: float = 300) -> None:
        def settled() -> bool:
            executions = self.executions()
            running = [e for e in executions if e["status"] == "RUNNING"]
            return len(executions) >= count and not running

        wait_for(settled, timeout_s, f"{count} executions to finish", interval_s=1)

    def bucket_keys(self, output: str, prefix: str) -> list[str]:
        s3 = self.client("s3")
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.outputs[output], Prefix=prefix
        ):
            keys += [entry["Key"] for entry in page.get("Contents", [])]
        return sorted(keys)

    def read_json(self, output: str, key: str) -> Any:
        body = self.client("s3").get_object(Bucket=self.outputs[output], Key=key)["Body"]
        return json.loads(body.read())

    def audit_records(self) -> int:
        s3 = self.client("s3")
        total = 0
        for key in self.bucket_keys("ReportsBucketName", "audit/predictions/"):
            body = s3.get_object(Bucket=self.outputs["ReportsBucketName"], Key=key)["Body"]
            total += sum(1 for line in body.read().splitlines() if line.strip())
        return total

    def wait_for_audit(self, records: int, timeout_s: float = 90) -> None:
        """Wait until the serve function has shipped at least `records` audit records."""
        wait_for(
            lambda: self.audit_records() >= records,
            timeout_s,
            f"{records} audit records in the reports bucket",
            interval_s=2,
        )

    def summaries(self) -> list[str]:
        keys = self.bucket_keys("ReportsBucketName", "drift/runs/")
        return [key for key in keys if key.endswith(SUMMARY_SUFFIX)]

    def fire_drift_schedule(self, timeout_s: float = 240) -> dict[str, Any]:
        """Fire the drift schedule with `mhpe cloud fire` and return the run's summary."""
        before = set(self.summaries())
        self.cloud.mhpe("cloud", "fire", DRIFT_SCHEDULE)
        started = time.monotonic()
        new = wait_for(
            lambda: sorted(set(self.summaries()) - before),
            timeout_s,
            "the drift check's summary",
            interval_s=1,
        )
        print(f"drift check finished in {time.monotonic() - started:.1f} s")
        return self.read_json("ReportsBucketName", new[-1])

    def replay(self, market: str, count: int, seed: int) -> str:
        result = self.cloud.mhpe(
            "replay", market, "--count", str(count), "--seed", str(seed), "--stack-name", STACK,
            timeout_s=600,
        )  # fmt: skip
        return result.stdout


def deploy_drift_cloud(state_dir: Path, config_dir: Path) -> DriftCloud:
    cloud = start_cloud(state_dir)
    overrides = [f"ConfigDirectory={config_dir}"] + [
        f"{name}={value}" for name, value in API_PARAMETERS.items()
    ]
    arguments: list[str] = []
    for override in overrides:
        arguments += ["--parameter-overrides", override]
    cloud.mhpe("deploy", "--stack-name", STACK, *arguments)
    outputs = json.loads(cloud.mhpe("outputs", "--stack-name", STACK).stdout)
    return DriftCloud(cloud, outputs)
