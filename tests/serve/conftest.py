"""Fixtures of the serve tests: moto's in-process S3, trained models, and the app behind Mangum.

The unit tests run the real app (FastAPI wrapped by Mangum) on API Gateway REST events, with
the champion read from moto's S3. tests/serve/test_gateway_*.py run the deployed function
behind the local cloud's gateway instead.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics
from mangum import Mangum
from mhpe.serving.assembly import Serving, build_serving
from mhpe.serving.settings import ServingSettings
from mhpe.storage import ObjectStore
from mhpe.training import TrainingResult
from moto import mock_aws
from moto.server import ThreadedMotoServer

from tests.serve.serve_support import (
    ALPHA_A,
    ALPHA_B,
    REPOSITORY,
    PublishedModel,
    publish_champion,
    train_ridge,
)

REGION = "us-east-1"
MODELS_BUCKET = "models"
REPORTS_BUCKET = "reports"
AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
PREDICT_EVENT = json.loads((REPOSITORY / "events" / "serve_predict.json").read_text())


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's in-process S3 with versioned models and reports buckets."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (MODELS_BUCKET, REPORTS_BUCKET):
            client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        yield client


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1, for code that runs in another process.

    It shares moto's backends with `mock_aws`, so a module uses one or the other.
    """
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def store(s3: Any) -> ObjectStore:
    return ObjectStore(s3)


@pytest.fixture(scope="session")
def model_a() -> TrainingResult:
    return train_ridge(ALPHA_A)


@pytest.fixture(scope="session")
def model_b() -> TrainingResult:
    return train_ridge(ALPHA_B)


@dataclass
class ServeHarness:
    """The serve function's parts on moto, and a handler that takes API Gateway events."""

    serving: Serving
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    audit_dir: Path
    log_stream: io.StringIO

    def log_records(self) -> list[dict[str, Any]]:
        """Return the JSON lines that the function's Powertools Logger wrote so far."""
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines()]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | None = None,
        request_id: str | None = None,
    ) -> Response:
        event = api_event(method, path, body, raw_body=raw_body, request_id=request_id)
        return Response.from_proxy_result(self.handler(event, LambdaContextStub()))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    @classmethod
    def from_proxy_result(cls, result: dict[str, Any]) -> Response:
        headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
        return cls(result["statusCode"], headers, result["body"])


class LambdaContextStub:
    """The context attributes that Mangum and Powertools read."""

    function_name = "mhpe-dev-servefunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:mhpe-dev-serve"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    raw_body: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Build a REST (v1) proxy event from events/serve_predict.json for a method and path."""
    event = copy.deepcopy(PREDICT_EVENT)
    event["httpMethod"] = method
    event["path"] = path
    event["resource"] = path
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = f"/dev{path}"
    event["requestContext"]["requestId"] = request_id or str(uuid.uuid4())
    if raw_body is not None:
        event["body"] = raw_body
    else:
        event["body"] = None if body is None else json.dumps(body)
    return event


def make_harness(
    s3: Any, audit_dir: Path, *, refresh_interval_s: float = 3600.0, ship_records: int = 500
) -> ServeHarness:
    settings = ServingSettings(
        models_bucket=MODELS_BUCKET,
        reports_bucket=REPORTS_BUCKET,
        refresh_interval_s=refresh_interval_s,
        audit_dir=audit_dir,
        audit_ship_max_records=ship_records,
        audit_ship_interval_s=3600.0,
    )
    metrics = Metrics(namespace="MHPE")
    # Powertools configures a logger once per service name, so each harness gets its own.
    log_stream = io.StringIO()
    audit_log = Logger(
        service=f"mhpe-test-{uuid.uuid4().hex[:8]}",
        logger_handler=logging.StreamHandler(log_stream),
    )
    serving = build_serving(settings, audit_log=audit_log, metrics=metrics, s3_client=s3)
    handler = metrics.log_metrics(Mangum(serving.app, lifespan="off"))
    return ServeHarness(serving, handler, audit_dir, log_stream)


@pytest.fixture
def harness_factory(s3: Any, tmp_path: Path) -> Iterator[Callable[..., ServeHarness]]:
    """Build harnesses on the test's S3; their shipper threads stop after the test."""
    built: list[ServeHarness] = []

    def build(**options: Any) -> ServeHarness:
        harness = make_harness(s3, tmp_path / f"audit-{len(built)}", **options)
        built.append(harness)
        return harness

    yield build
    for harness in built:
        harness.serving.audit.close()


@pytest.fixture
def published(store: ObjectStore, model_a: TrainingResult) -> PublishedModel:
    """Publish model A as the champion, version 1."""
    return publish_champion(store, MODELS_BUCKET, model_a, "1")


@pytest.fixture
def harness(
    published: PublishedModel, harness_factory: Callable[..., ServeHarness]
) -> ServeHarness:
    """Build a serve harness on the published champion."""
    return harness_factory()
