"""A restart of the local cloud keeps the REST API's id, and the API key's id and value."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.integration.conftest import free_port, run_mhpe

pytestmark = pytest.mark.integration

STACK = "restart"
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: restart-api
      Body:
        openapi: "3.0.1"
        info: {title: restart-api, version: "1"}
        paths:
          /ping:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
  # A deployment that the restart loses while the API keeps its id: the redeploy must notice
  # it is gone and create it again.
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
      StageName: dev
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties:
      Enabled: true
Outputs:
  ApiId:
    Value: !Ref Api
  ApiKeyId:
    Value: !Ref Key
  DeploymentId:
    Value: !Ref Deployment
"""


def _up(state_dir: Path, port: int, mlflow_port: int) -> None:
    run_mhpe(
        state_dir, "cloud", "up", "--port", str(port), "--mlflow-port", str(mlflow_port),
        "--no-mlflow",
    )  # fmt: skip


def _outputs(state_dir: Path) -> dict[str, str]:
    return json.loads(run_mhpe(state_dir, "outputs", "--stack-name", STACK).stdout)


def test_restart_keeps_api_and_key(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    port, mlflow_port = free_port(), free_port()
    _up(state_dir, port, mlflow_port)
    try:
        run_mhpe(state_dir, "deploy", "--template", str(template), "--stack-name", STACK)
        before = _outputs(state_dir)
        key_before = run_mhpe(state_dir, "api-key", "--stack-name", STACK).stdout.strip()
        run_mhpe(state_dir, "cloud", "down")
        _up(state_dir, port, mlflow_port)
        after = _outputs(state_dir)
        key_after = run_mhpe(state_dir, "api-key", "--stack-name", STACK).stdout.strip()
        # A deploy after the restart finds every resource, the recreated deployment included.
        again = run_mhpe(state_dir, "deploy", "--template", str(template), "--stack-name", STACK)
    finally:
        run_mhpe(state_dir, "cloud", "down", check=False)

    server_log = (state_dir / "logs" / "localcloud.log").read_text()
    # The redeployment created both again, with the ids reserved for them.
    assert f"reserved id {before['ApiId']} for the next rest_api" in server_log
    assert f"reserved id {before['ApiKeyId']} for the next api_key" in server_log
    assert after["ApiId"] == before["ApiId"]
    assert after["ApiKeyId"] == before["ApiKeyId"]
    assert len(key_before) == 40
    assert key_after == key_before
    assert "failed" not in again.stdout + again.stderr
    secrets = state_dir / "secrets" / "api-keys.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    for path in [*(state_dir / "logs").rglob("*"), *(state_dir / "stacks").rglob("*")]:
        if path.is_file():
            assert key_before not in path.read_text(errors="replace"), path
