"""The `mhpe` command line against a running local cloud: deploy, outputs, invoke, status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import FIXTURES, STACK, Cloud

pytestmark = pytest.mark.integration


def test_deploy_twice_changes_nothing(cloud: Cloud) -> None:
    result = cloud.mhpe(
        "deploy", "--template", str(FIXTURES / "template.yaml"), "--stack-name", STACK
    )

    assert "created" not in result.stdout.split("deployed:")[1]
    assert "updated" not in result.stdout.split("deployed:")[1]
    assert "unchanged" in result.stdout


def test_deploy_malformed_template_names_resource_and_property(
    cloud: Cloud, tmp_path: Path
) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    template = fixtures / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "Handler: app.slow", "Handler: app.slow\n      CodeUri: missing/"
        )
    )

    result = cloud.mhpe(
        "deploy", "--template", str(template), "--stack-name", "broken", check=False
    )

    assert result.returncode != 0
    assert "property CodeUri" in result.stderr
    assert "resource SlowFunction" in result.stderr


def test_deploy_invalid_yaml_fails_clearly(cloud: Cloud, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n   Properties: [\n")

    result = cloud.mhpe(
        "deploy", "--template", str(template), "--stack-name", "broken", check=False
    )

    assert result.returncode != 0
    assert "template.yaml" in result.stderr


def test_outputs_prints_stack_outputs_as_json(cloud: Cloud) -> None:
    outputs = json.loads(cloud.mhpe("outputs", "--stack-name", STACK).stdout)

    assert set(outputs) == {
        "InputBucketName",
        "OutputBucketName",
        "PipelineArn",
        "EchoFunctionName",
    }
    assert outputs["PipelineArn"].startswith("arn:aws:states:us-east-1:")


def test_invoke_runs_function_from_template(cloud: Cloud, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"value": 21}))

    result = cloud.mhpe(
        "invoke", "DoubleFunction", "--event", str(event),
        "--template", str(FIXTURES / "template.yaml"), "--stack-name", STACK,
    )  # fmt: skip

    assert json.loads(result.stdout)["value"] == 42
    assert "REPORT RequestId:" in result.stderr


def test_invoke_exits_nonzero_on_function_error(cloud: Cloud, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"name": "cli"}))

    result = cloud.mhpe(
        "invoke", "FailFunction", "--event", str(event),
        "--template", str(FIXTURES / "template.yaml"), check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert json.loads(result.stdout)["errorType"] == "ValueError"


def test_invoke_env_vars_file_overrides_variables(cloud: Cloud, tmp_path: Path) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"EchoFunction": {"GREETING": "bonjour"}}))

    result = cloud.mhpe(
        "invoke", "EchoFunction", "--env-vars", str(env_vars),
        "--template", str(FIXTURES / "template.yaml"),
    )  # fmt: skip

    assert json.loads(result.stdout)["greeting"] == "bonjour"


def test_invoke_unknown_function_lists_known_ones(cloud: Cloud) -> None:
    result = cloud.mhpe(
        "invoke", "NoSuchFunction", "--template", str(FIXTURES / "template.yaml"), check=False
    )

    assert result.returncode != 0
    assert "NoSuchFunction" in result.stderr
    assert "EchoFunction" in result.stderr


def test_cloud_status_reports_running(cloud: Cloud) -> None:
    status = json.loads(cloud.mhpe("cloud", "status").stdout)

    assert status["status"] == "running"
    assert status["endpoint_url"] == cloud.endpoint_url


def test_cloud_logs_prints_function_log(cloud: Cloud) -> None:
    cloud.client("lambda").invoke(FunctionName=cloud.function_name("EchoFunction"), Payload=b"{}")

    result = cloud.mhpe("cloud", "logs", "EchoFunction", "--stack-name", STACK)

    assert "START RequestId:" in result.stdout


def test_server_listens_only_on_loopback(cloud: Cloud) -> None:
    import psutil

    pid = json.loads((cloud.state_dir / "localcloud.json").read_text())["pid"]
    process = psutil.Process(pid)
    listening = [c.laddr for c in process.net_connections(kind="inet") if c.status == "LISTEN"]
    for child in process.children(recursive=True):
        listening += [c.laddr for c in child.net_connections(kind="inet") if c.status == "LISTEN"]

    assert listening
    assert all(address.ip == "127.0.0.1" for address in listening)
