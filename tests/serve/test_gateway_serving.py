"""The serve function deployed from template.yaml, called over HTTP through the local gateway.

One local cloud (without MLflow) runs two stacks. `mhpe` has usage-plan limits far above
what the tests send and checks the champion every 0.5 s. It serves a ridge model trained on
the committed Ames sample and published in the promote step's layout. `limits` has a burst
of 2, a rate of one request per 5 s and a quota of 4 a day, to check that the template's
parameters reach the usage plan.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

import pytest
from mhpe.serving.audit_shipper import AUDIT_PREFIX
from mhpe.serving.reference_house import REFERENCE_HOUSE
from mhpe.training import TrainingResult

from tests.integration.conftest import Cloud, free_port, run_mhpe, wait_for
from tests.serve.gateway_support import PricingApi, deploy_pricing_api, stop_cloud
from tests.serve.serve_support import PublishedModel, publish_champion, sample_houses

pytestmark = pytest.mark.integration

FORBIDDEN = {"message": "Forbidden"}
SWITCH_CLIENTS = 8
SWITCH_TIMEOUT_S = 90.0
SETTLE_REQUESTS = 200
SHIP_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("serve-cloud")
    port = free_port()
    run_mhpe(state_dir, "cloud", "up", "--port", str(port), "--no-mlflow")
    started = Cloud(state_dir, port, 0, outputs={})
    try:
        yield started
    finally:
        stop_cloud(started)


@pytest.fixture(scope="module")
def api(cloud: Cloud) -> PricingApi:
    return deploy_pricing_api(
        cloud,
        "mhpe",
        ApiRateLimit="10000",
        ApiBurstLimit="10000",
        ApiQuotaLimit="100000000",
        ModelRefreshSeconds="0.5",
    )


@pytest.fixture(scope="module")
def champion(api: PricingApi, model_a: TrainingResult) -> PublishedModel:
    return publish_champion(api.store(), api.outputs["ModelsBucketName"], model_a, "1")


@pytest.fixture(scope="module")
def limited_api(cloud: Cloud) -> PricingApi:
    return deploy_pricing_api(
        cloud,
        "limits",
        Stage="limits",
        ApiRateLimit="0.2",
        ApiBurstLimit="2",
        ApiQuotaLimit="4",
        ApiQuotaPeriod="DAY",
    )


def test_predict_through_gateway(api: PricingApi, champion: PublishedModel) -> None:
    response = api.call("POST", "/predict", REFERENCE_HOUSE)
    body = response.json()

    assert response.status_code == 200
    assert body["price_usd"] == champion.prices([REFERENCE_HOUSE])[0]
    assert body["model_version"] == champion.version
    assert body["request_id"] == response.headers["x-amzn-RequestId"]
    assert response.headers["X-Model-Version"] == champion.version


def test_predict_batch_through_gateway(api: PricingApi, champion: PublishedModel) -> None:
    houses = sample_houses(25)

    response = api.call("POST", "/predict/batch", {"houses": houses})

    assert response.status_code == 200
    assert response.json()["prices_usd"] == champion.prices(houses)


def test_model_loads_once_per_worker(api: PricingApi, champion: PublishedModel) -> None:
    for _ in range(30):
        assert api.call("POST", "/predict", REFERENCE_HOUSE).status_code == 200
        time.sleep(0.05)
    log = api.function_log()

    loads = log.count(f"loaded model house-price version {champion.version}")
    cold_starts = log.count("Init Duration:")
    assert cold_starts >= 1
    assert loads == cold_starts


def test_missing_or_wrong_key_is_forbidden(api: PricingApi, champion: PublishedModel) -> None:
    missing = api.call("POST", "/predict", REFERENCE_HOUSE, key=None)
    wrong = api.call("POST", "/predict", REFERENCE_HOUSE, key="not-the-key-0123456789")
    docs = api.call("GET", "/docs", key=None)

    assert (missing.status_code, missing.json()) == (403, FORBIDDEN)
    assert (wrong.status_code, wrong.json()) == (403, FORBIDDEN)
    assert (docs.status_code, docs.json()) == (403, FORBIDDEN)


def test_invalid_house_gets_422_through_gateway(api: PricingApi, champion: PublishedModel) -> None:
    response = api.call("POST", "/predict", {**REFERENCE_HOUSE, "Gr_Liv_Area": -1})
    (error,) = response.json()["errors"]

    assert response.status_code == 422
    assert (error["field"], error["value"], error["rule"]) == ("Gr_Liv_Area", -1, "must be > 0")


def test_oversized_batch_gets_short_422_through_gateway(
    api: PricingApi, champion: PublishedModel
) -> None:
    # 2,000 houses make a request of about 2.4 MB. Echoed in full, its 422 would be about
    # 9 MB, over Lambda's 6 MB response limit, and the client would get a 502.
    houses = (sample_houses() * math.ceil(2_000 / len(sample_houses())))[:2_000]

    response = api.call("POST", "/predict/batch", {"houses": houses})
    (error,) = response.json()["errors"]

    assert response.status_code == 422
    assert len(response.content) < 4_000
    assert (error["field"], error["value"]) == ("houses", "list of 2000 houses")


def test_request_over_lambda_limit_gets_413(api: PricingApi, champion: PublishedModel) -> None:
    houses = [{**REFERENCE_HOUSE, "Neighborhood": "x" * 100_000} for _ in range(70)]

    response = api.call("POST", "/predict/batch", {"houses": houses})

    assert response.status_code == 413
    assert response.json() == {"message": "Request Too Long"}


def test_model_and_health_through_gateway(api: PricingApi, champion: PublishedModel) -> None:
    model = api.call("GET", "/model")
    health = api.call("GET", "/health")

    assert model.status_code == 200
    assert model.json()["version"] == champion.version
    assert model.json()["dataset_version"] == champion.manifest["dataset_version"]
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_docs_and_openapi_resolve_behind_invoke_url(
    api: PricingApi, champion: PublishedModel
) -> None:
    docs = api.call("GET", "/docs")
    (relative,) = re.findall(r"url: '([^']+)'", docs.text)
    document_url = urljoin(api.url("/docs"), relative)
    document = api.session().get(document_url, headers={"x-api-key": api.key}, timeout=30)
    server = urljoin(document_url, document.json()["servers"][0]["url"]).rstrip("/")
    predict = api.session().post(
        server + "/predict", json=REFERENCE_HOUSE, headers={"x-api-key": api.key}, timeout=30
    )

    assert docs.status_code == 200
    assert document.status_code == 200
    assert document_url == api.url("/openapi.json")
    assert "/predict/batch" in document.json()["paths"]
    assert predict.status_code == 200


def test_audit_records_ship_to_reports_bucket(api: PricingApi, champion: PublishedModel) -> None:
    request_id = api.call("POST", "/predict", REFERENCE_HOUSE).headers["x-amzn-RequestId"]
    s3 = api.cloud.client("s3")
    bucket = api.outputs["ReportsBucketName"]

    def shipped_request_ids() -> set[str]:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=AUDIT_PREFIX)
        found = set()
        for entry in listing.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode()
            found |= {json.loads(line)["request_id"] for line in body.splitlines()}
        return found

    wait_for(lambda: request_id in shipped_request_ids(), SHIP_TIMEOUT_S, "audit shipment")


def test_function_log_has_audit_and_no_key(api: PricingApi, champion: PublishedModel) -> None:
    request_id = api.call("POST", "/predict", REFERENCE_HOUSE).headers["x-amzn-RequestId"]

    def audit_line() -> dict[str, Any] | None:
        for line in api.function_log().splitlines():
            if request_id in line and '"prediction audit"' in line:
                return json.loads(line)
        return None

    record = wait_for(audit_line, 30, "the audit line in the function log")
    assert record["correlation_id"] == request_id
    assert record["audit"]["model_version"] == champion.version
    assert api.key not in api.function_log()


def test_model_switch_under_load_fails_no_request(
    api: PricingApi, champion: PublishedModel, model_b: TrainingResult
) -> None:
    houses = sample_houses(5)
    expected = {champion.version: champion.prices(houses)}
    results: list[tuple[int, dict[str, Any]]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            response = api.call("POST", "/predict/batch", {"houses": houses})
            try:
                body = response.json()
            except ValueError:
                body = {"text": response.text}
            results.append((response.status_code, body))

    def newest_versions(count: int) -> set[str]:
        return {body.get("model_version", "?") for _, body in results[-count:]}

    with ThreadPoolExecutor(max_workers=SWITCH_CLIENTS) as pool:
        clients = [pool.submit(client) for _ in range(SWITCH_CLIENTS)]
        try:
            wait_for(lambda: len(results) >= 100, SWITCH_TIMEOUT_S, "100 responses of model 1")
            promoted = publish_champion(
                api.store(), api.outputs["ModelsBucketName"], model_b, "2", replaced_version="1"
            )
            expected[promoted.version] = promoted.prices(houses)
            wait_for(
                lambda: newest_versions(SETTLE_REQUESTS) == {"2"},
                SWITCH_TIMEOUT_S,
                f"{SETTLE_REQUESTS} responses in a row from model 2",
            )
        finally:
            stop.set()
            for future in clients:
                future.result()

    failures = [(status, body) for status, body in results if status != 200]
    versions = [body["model_version"] for _, body in results]
    assert failures == []
    assert versions.count("1") >= 100
    assert versions.count("2") >= SETTLE_REQUESTS
    for _, body in results:
        assert body["prices_usd"] == expected[body["model_version"]]
    print(f"model switch: {len(results)} requests from {SWITCH_CLIENTS} clients, 0 failed")


def test_usage_plan_burst_and_quota_from_parameters(limited_api: PricingApi) -> None:
    def send() -> tuple[int, dict[str, Any]]:
        response = limited_api.call("GET", "/health")
        return response.status_code, response.json()

    burst = [send() for _ in range(3)]
    # One token comes back every 5 s; four admitted requests use up the quota.
    admitted = len([status for status, _ in burst if status != 429])
    deadline = time.monotonic() + 60
    while admitted < 4 and time.monotonic() < deadline:
        time.sleep(5.2)
        status, _ = send()
        admitted += status != 429
    time.sleep(5.2)
    over_quota = send()

    assert [status for status, _ in burst[:2]] == [503, 503]
    assert burst[2] == (429, {"message": "Too Many Requests"})
    assert admitted == 4
    assert over_quota == (429, {"message": "Limit Exceeded"})
