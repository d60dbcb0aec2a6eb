"""`mhpe api-key`: the deployed stack's key value, read through the API Gateway API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from mhpe.api_commands import api_key

from tests.serve.conftest import AWS_TEST_ENVIRONMENT, REGION
from tests.serve.serve_support import REPOSITORY


@pytest.fixture(scope="module")
def key(moto_endpoint: str) -> dict[str, str]:
    apigateway = boto3.client(
        "apigateway",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    created = apigateway.create_api_key(name="demo", enabled=True)
    return {"id": created["id"], "value": created["value"]}


def _write_stack(state_dir: Path, outputs: dict[str, str], endpoint_url: str) -> None:
    stacks = state_dir / "stacks"
    stacks.mkdir(parents=True)
    record = {"outputs": outputs, "endpoint_url": endpoint_url, "region": REGION}
    (stacks / "mhpe.json").write_text(json.dumps(record))


def _write_running_cloud(state_dir: Path, endpoint_url: str) -> None:
    """Record a running cloud; the pid of this test process is used as the server's."""
    record = {"pid": os.getpid(), "endpoint_url": endpoint_url}
    (state_dir / "localcloud.json").write_text(json.dumps(record))


@pytest.fixture(autouse=True)
def _no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_api_key_prints_only_the_value(
    tmp_path: Path, moto_endpoint: str, key: dict[str, str]
) -> None:
    _write_stack(tmp_path, {"ApiKeyId": key["id"]}, moto_endpoint)
    _write_running_cloud(tmp_path, moto_endpoint)

    result = CliRunner().invoke(api_key, ["--state-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.output == key["value"] + "\n"


def test_api_key_prefers_running_cloud_endpoint(
    tmp_path: Path, moto_endpoint: str, key: dict[str, str]
) -> None:
    _write_stack(tmp_path, {"ApiKeyId": key["id"]}, "http://127.0.0.1:9")
    _write_running_cloud(tmp_path, moto_endpoint)

    result = CliRunner().invoke(api_key, ["--state-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == key["value"]


def test_api_key_names_missing_stack(tmp_path: Path) -> None:
    result = CliRunner().invoke(api_key, ["--state-dir", str(tmp_path), "--stack-name", "other"])

    assert result.exit_code == 1
    assert "stack other is not deployed" in result.output
    assert "mhpe deploy" in result.output


def test_api_key_names_missing_output(tmp_path: Path, moto_endpoint: str) -> None:
    _write_stack(tmp_path, {"ApiUrl": "http://127.0.0.1/"}, moto_endpoint)

    result = CliRunner().invoke(api_key, ["--state-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "has no ApiKeyId output" in result.output


def test_api_key_names_unknown_key(tmp_path: Path, moto_endpoint: str) -> None:
    _write_stack(tmp_path, {"ApiKeyId": "nosuchkey1"}, moto_endpoint)
    _write_running_cloud(tmp_path, moto_endpoint)

    result = CliRunner().invoke(api_key, ["--state-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "API key nosuchkey1 of stack mhpe could not be read" in result.output


def test_api_key_reports_stopped_cloud(tmp_path: Path, key: dict[str, str]) -> None:
    _write_stack(tmp_path, {"ApiKeyId": key["id"]}, "http://127.0.0.1:9")

    result = CliRunner().invoke(api_key, ["--state-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "start it with `mhpe cloud up`" in result.output


def test_mhpe_command_line_registers_api_key(
    tmp_path: Path, moto_endpoint: str, key: dict[str, str]
) -> None:
    _write_stack(tmp_path, {"ApiKeyId": key["id"]}, moto_endpoint)
    _write_running_cloud(tmp_path, moto_endpoint)
    environment = {**os.environ, **AWS_TEST_ENVIRONMENT}
    environment.pop("AWS_ENDPOINT_URL", None)

    completed = subprocess.run(
        [sys.executable, "-m", "infra.cli", "--state-dir", str(tmp_path), "api-key"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == key["value"] + "\n"
    assert key["value"] not in completed.stderr
