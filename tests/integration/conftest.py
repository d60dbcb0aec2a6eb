"""A local cloud for the integration tests: started once on free ports, with a test stack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
STACK = "itest"
CLIENT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_mhpe(state_dir: Path, *args: str, check: bool = True, timeout_s: float = 300):
    """Run the `mhpe` command line in a subprocess, as a user would."""
    command = [sys.executable, "-m", "infra.cli", "--state-dir", str(state_dir), *args]
    result = subprocess.run(
        command,
        check=False,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **CLIENT_ENVIRONMENT},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"mhpe {' '.join(args)} exited with {result.returncode}:\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@dataclass
class Cloud:
    state_dir: Path
    port: int
    mlflow_port: int
    outputs: dict[str, str]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def mhpe(self, *args: str, check: bool = True, timeout_s: float = 300):
        return run_mhpe(self.state_dir, *args, check=check, timeout_s=timeout_s)

    def awslocal(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `awslocal` (the AWS CLI aimed at the local cloud) from the project's venv."""
        awslocal = Path(sys.executable).parent / "awslocal"
        environment = {
            **os.environ,
            **CLIENT_ENVIRONMENT,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        result = subprocess.run(
            [str(awslocal), *args],
            check=False,
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"awslocal {' '.join(args)} failed:\n{result.stderr}")
        return result

    def function_name(self, logical_id: str) -> str:
        record = json.loads((self.state_dir / "stacks" / f"{STACK}.json").read_text())
        return record["resources"][logical_id]["PhysicalResourceId"]

    def function_log(self, logical_id: str) -> str:
        path = self.state_dir / "logs" / "functions" / f"{self.function_name(logical_id)}.log"
        return path.read_text() if path.exists() else ""


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, interval_s=0.25) -> Any:
    """Poll until condition() returns a truthy value; fail naming what was awaited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def start_cloud(state_dir: Path) -> Cloud:
    port, mlflow_port = free_port(), free_port()
    run_mhpe(
        state_dir,
        "cloud", "up",
        "--port", str(port),
        "--mlflow-port", str(mlflow_port),
        "--async-retry-delays", "0.5,1",
    )  # fmt: skip
    return Cloud(state_dir, port, mlflow_port, outputs={})


def deploy_fixture_stack(cloud: Cloud) -> None:
    cloud.mhpe("deploy", "--template", str(FIXTURES / "template.yaml"), "--stack-name", STACK)
    outputs = cloud.mhpe("outputs", "--stack-name", STACK)
    cloud.outputs = json.loads(outputs.stdout)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("localcloud")
    started = start_cloud(state_dir)
    try:
        deploy_fixture_stack(started)
        yield started
    finally:
        run_mhpe(state_dir, "cloud", "down", check=False)
