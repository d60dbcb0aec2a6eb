"""A local cloud with the gateway on a free port, and a REST API built on it with boto3."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

REPOSITORY = Path(__file__).resolve().parents[2]
HANDLERS_DIR = Path(__file__).parent / "handlers"
CLIENT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STAGE = "dev"
BINARY_MEDIA_TYPES = ("application/octet-stream", "image/png")
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CLIENT_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def event(self) -> dict[str, Any]:
        """Return the proxy event that the echo function put in the body."""
        return self.json()["event"]


@dataclass
class GatewayApi:
    """The REST API that the tests call, with its ids and the values of its API keys."""

    endpoint_url: str
    api_id: str
    key_ids: dict[str, str] = field(default_factory=dict)
    key_values: dict[str, str] = field(default_factory=dict)
    resource_ids: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def url_path(self, path: str, stage: str = STAGE, api_id: str | None = None) -> str:
        return f"/restapis/{api_id or self.api_id}/{stage}/_user_request_{path}"

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "main",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        stage: str = STAGE,
        api_id: str | None = None,
    ) -> Response:
        """Send one request with http.client, which can repeat a header, and read the reply.

        `key` names one of the API keys made by the fixture, or None for no x-api-key.
        """
        port = int(self.endpoint_url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.putrequest(method, self.url_path(path, stage, api_id))
            if key is not None:
                connection.putheader("x-api-key", self.key_values.get(key, key))
            for name, value in headers or []:
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            reply = connection.getresponse()
            return Response(reply.status, reply.headers, reply.read())
        finally:
            connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(process: subprocess.Popen[bytes], endpoint_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"local cloud exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            status = requests.get(f"{endpoint_url}/_mhpe/health", timeout=2).json()["status"]
            if status == "running":
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"local cloud not ready after {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def gateway_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start tests.gateway.gateway_server without MLflow and yield its endpoint URL."""
    state_dir = tmp_path_factory.mktemp("gateway-cloud")
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    log = state_dir / "server.log"
    command = [
        sys.executable, "-m", "tests.gateway.gateway_server",
        "--state-dir", str(state_dir), "--port", str(port), "--no-mlflow",
    ]  # fmt: skip
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **CLIENT_ENVIRONMENT},
        )
    try:
        _wait_until_ready(process, endpoint_url, log)
        yield endpoint_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HANDLERS_DIR / "gateway_fixture.py", "gateway_fixture.py")
    return buffer.getvalue()


def _create_functions(api: GatewayApi) -> dict[str, str]:
    """Create one function per fixture handler and return their ARNs by handler name."""
    iam = api.client("iam")
    role_arn = iam.create_role(
        RoleName="gateway-tests",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lambda_client = api.client("lambda")
    code = _function_zip()
    arns = {}
    for handler in ("echo", "fail", "malformed", "binary", "slow", "teapot"):
        arns[handler] = lambda_client.create_function(
            FunctionName=f"gateway-{handler}",
            Runtime="python3.12",
            Role=role_arn,
            Handler=f"gateway_fixture.{handler}",
            Code={"ZipFile": code},
            Timeout=5,
            MemorySize=256,
        )["FunctionArn"]
    arns["throttled"] = lambda_client.create_function(
        FunctionName="gateway-throttled",
        Runtime="python3.12",
        Role=role_arn,
        Handler="gateway_fixture.echo",
        Code={"ZipFile": code},
        MemorySize=256,
    )["FunctionArn"]
    lambda_client.put_function_concurrency(
        FunctionName="gateway-throttled", ReservedConcurrentExecutions=0
    )
    return arns


def invocation_uri(function_arn: str) -> str:
    return (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def add_method(
    apigateway: Any,
    api_id: str,
    resource_id: str,
    http_method: str,
    function_arn: str,
    *,
    api_key_required: bool = True,
    timeout_ms: int | None = None,
) -> None:
    apigateway.put_method(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=http_method,
        authorizationType="NONE",
        apiKeyRequired=api_key_required,
    )
    extra = {"timeoutInMillis": timeout_ms} if timeout_ms else {}
    apigateway.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=http_method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=invocation_uri(function_arn),
        **extra,
    )


def add_resource(apigateway: Any, api: GatewayApi, parent_path: str, path_part: str) -> str:
    parent_id = api.resource_ids[parent_path]
    resource = apigateway.create_resource(
        restApiId=api.api_id, parentId=parent_id, pathPart=path_part
    )
    path = f"{parent_path.rstrip('/')}/{path_part}"
    api.resource_ids[path] = resource["id"]
    return resource["id"]


def _create_key(apigateway: Any, api: GatewayApi, name: str, enabled: bool = True) -> str:
    key = apigateway.create_api_key(name=f"gateway-{name}", enabled=enabled)
    api.key_ids[name] = key["id"]
    api.key_values[name] = key["value"]
    return key["id"]


def _create_plan(
    apigateway: Any,
    api: GatewayApi,
    name: str,
    stages: list[str],
    throttle: dict[str, Any],
    quota: dict[str, Any],
    key_names: list[str],
) -> None:
    plan_id = apigateway.create_usage_plan(
        name=f"gateway-{name}",
        apiStages=[{"apiId": api.api_id, "stage": stage} for stage in stages],
        throttle=throttle,
        quota=quota,
    )["id"]
    for key_name in key_names:
        apigateway.create_usage_plan_key(
            usagePlanId=plan_id, keyId=api.key_ids[key_name], keyType="API_KEY"
        )


@pytest.fixture(scope="session")
def gateway_api(gateway_cloud: str) -> GatewayApi:
    """Build the REST API, its stages, keys and usage plans through the AWS API, with boto3.

    Stage dev serves every route. Stage throttled shares its deployment and throttles
    GET /items to a burst of 1. Keys: main (generous plan), burst (burst 3), quota (2
    requests a week), disabled, and orphan (in no usage plan).
    """
    for name, value in CLIENT_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    apigateway = boto3.client("apigateway", endpoint_url=gateway_cloud, region_name=REGION)
    created = apigateway.create_rest_api(name="gateway-tests")
    # moto 5.2.5 drops binaryMediaTypes from CreateRestApi. On update it stores the "value"
    # of an add operation, while AWS reads the type from the path, so this patch sets both.
    apigateway.update_rest_api(
        restApiId=created["id"],
        patchOperations=[
            {
                "op": "add",
                "path": f"/binaryMediaTypes/{media_type.replace('/', '~1')}",
                "value": media_type,
            }
            for media_type in BINARY_MEDIA_TYPES
        ],
    )
    api = GatewayApi(endpoint_url=gateway_cloud, api_id=created["id"])
    api.resource_ids["/"] = created["rootResourceId"]
    arns = _create_functions(api)

    root = api.resource_ids["/"]
    add_method(apigateway, api.api_id, root, "GET", arns["echo"], api_key_required=False)
    items = add_resource(apigateway, api, "/", "items")
    add_method(apigateway, api.api_id, items, "GET", arns["echo"])
    add_method(apigateway, api.api_id, items, "POST", arns["echo"])
    item = add_resource(apigateway, api, "/items", "{id}")
    add_method(apigateway, api.api_id, item, "GET", arns["echo"])
    add_resource(apigateway, api, "/", "files")
    proxy = add_resource(apigateway, api, "/files", "{proxy+}")
    add_method(apigateway, api.api_id, proxy, "ANY", arns["echo"])
    for path_part, handler in (
        ("fail", "fail"),
        ("malformed", "malformed"),
        ("image", "binary"),
        ("busy", "throttled"),
        ("teapot", "teapot"),
    ):
        resource_id = add_resource(apigateway, api, "/", path_part)
        add_method(apigateway, api.api_id, resource_id, "GET", arns[handler])
    slow = add_resource(apigateway, api, "/", "slow")
    add_method(apigateway, api.api_id, slow, "GET", arns["slow"], timeout_ms=300)

    deployment_id = apigateway.create_deployment(restApiId=api.api_id, stageName=STAGE)["id"]
    apigateway.update_stage(
        restApiId=api.api_id,
        stageName=STAGE,
        patchOperations=[{"op": "replace", "path": "/variables/color", "value": "blue"}],
    )
    apigateway.create_stage(restApiId=api.api_id, stageName="throttled", deploymentId=deployment_id)
    apigateway.update_stage(
        restApiId=api.api_id,
        stageName="throttled",
        patchOperations=[
            {"op": "replace", "path": "/~1items/GET/throttling/burstLimit", "value": "1"},
            {"op": "replace", "path": "/~1items/GET/throttling/rateLimit", "value": "0.01"},
        ],
    )

    for name in ("main", "burst", "quota", "orphan"):
        _create_key(apigateway, api, name)
    _create_key(apigateway, api, "disabled", enabled=False)
    generous = {"rateLimit": 100.0, "burstLimit": 100}
    daily = {"limit": 10_000, "period": "DAY"}
    plans = (
        ("main", [STAGE, "throttled"], generous, daily, ["main", "disabled"]),
        ("burst", [STAGE], {"rateLimit": 0.01, "burstLimit": 3}, daily, ["burst"]),
        ("quota", [STAGE], generous, {"limit": 2, "offset": 1, "period": "WEEK"}, ["quota"]),
    )
    for name, stages, throttle, quota, key_names in plans:
        _create_plan(apigateway, api, name, stages, throttle, quota, key_names)
    return api
