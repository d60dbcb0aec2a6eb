"""The gateway over real HTTP: a local cloud, a REST API made with boto3, fixture functions."""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.gateway.conftest import ACCOUNT_ID, STAGE, GatewayApi, Response, add_method
from tests.gateway.handlers.gateway_fixture import PNG_BYTES

pytestmark = pytest.mark.integration

EVENT_FIELDS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
REQUEST_CONTEXT_FIELDS = {
    "resourceId",
    "resourcePath",
    "httpMethod",
    "extendedRequestId",
    "requestTime",
    "path",
    "accountId",
    "protocol",
    "stage",
    "domainPrefix",
    "requestTimeEpoch",
    "requestId",
    "identity",
    "domainName",
    "apiId",
}
INTERNAL_ERROR = {"message": "Internal server error"}


def assert_gateway_error(response: Response, status: int, message: str, error_type: str) -> None:
    assert response.status == status
    assert response.json() == {"message": message}
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert response.headers["x-amzn-RequestId"]
    assert response.headers["x-amz-apigw-id"]


def test_proxy_event_has_rest_v1_shape(gateway_api: GatewayApi) -> None:
    before_ms = int(time.time() * 1000)
    response = gateway_api.call("GET", "/items/42", headers=[("User-Agent", "gateway-test/1")])
    event = response.event()
    context = event["requestContext"]

    assert response.status == 200
    assert set(event) == EVENT_FIELDS
    assert set(context) == REQUEST_CONTEXT_FIELDS
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["headers"]["User-Agent"] == "gateway-test/1"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert context["resourceId"] == gateway_api.resource_ids["/items/{id}"]
    assert context["resourcePath"] == "/items/{id}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == f"/{STAGE}/items/42"
    assert context["stage"] == STAGE
    assert context["apiId"] == gateway_api.api_id
    assert context["accountId"] == ACCOUNT_ID
    assert context["protocol"] == "HTTP/1.1"
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["extendedRequestId"] == response.headers["x-amz-apigw-id"]
    assert before_ms <= context["requestTimeEpoch"] <= int(time.time() * 1000)
    assert time.strptime(context["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "gateway-test/1"
    assert context["identity"]["apiKeyId"] == gateway_api.key_ids["main"]
    assert context["identity"]["apiKey"] == gateway_api.key_values["main"]


def test_proxy_event_keeps_repeated_query_and_headers(gateway_api: GatewayApi) -> None:
    response = gateway_api.call(
        "GET",
        "/items?tag=a&tag=b&city=New%20York&flag",
        headers=[("X-Multi", "1"), ("X-Multi", "2")],
    )
    event = response.event()

    assert event["queryStringParameters"] == {"tag": "b", "city": "New York", "flag": ""}
    assert event["multiValueQueryStringParameters"] == {
        "tag": ["a", "b"],
        "city": ["New York"],
        "flag": [""],
    }
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["pathParameters"] is None


def test_function_response_reaches_client(gateway_api: GatewayApi) -> None:
    echoed = gateway_api.call("GET", "/items")
    teapot = gateway_api.call("GET", "/teapot")

    assert echoed.headers["X-Echo"] == "yes"
    assert echoed.headers["X-Flag"] == "true"
    assert echoed.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert echoed.headers["x-amzn-RequestId"]
    assert teapot.status == 418
    assert teapot.body == b"short and stout"
    assert teapot.headers["Content-Type"] == "application/json"


def test_missing_api_key_is_forbidden(gateway_api: GatewayApi) -> None:
    response = gateway_api.call("GET", "/items", key=None)

    assert_gateway_error(response, 403, "Forbidden", "ForbiddenException")


@pytest.mark.parametrize("key", ["not-a-key-of-this-cloud-0000", "disabled", "orphan"])
def test_unaccepted_api_key_is_forbidden(gateway_api: GatewayApi, key: str) -> None:
    response = gateway_api.call("GET", "/items", key=key)

    assert_gateway_error(response, 403, "Forbidden", "ForbiddenException")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nothing/here"), ("DELETE", "/items"), ("GET", "/files")]
)
def test_unmatched_route_needs_authentication_token(
    gateway_api: GatewayApi, method: str, path: str
) -> None:
    response = gateway_api.call(method, path)

    assert_gateway_error(
        response, 403, "Missing Authentication Token", "MissingAuthenticationTokenException"
    )


@pytest.mark.parametrize(("api_id", "stage"), [("nosuchapi0", STAGE), (None, "prod")])
def test_unknown_api_or_stage_is_forbidden(
    gateway_api: GatewayApi, api_id: str | None, stage: str
) -> None:
    response = gateway_api.call("GET", "/items", api_id=api_id, stage=stage)

    assert_gateway_error(response, 403, "Forbidden", "ForbiddenException")


def test_method_without_key_requirement_needs_no_key(gateway_api: GatewayApi) -> None:
    response = gateway_api.call("GET", "/", key=None)
    event = response.event()

    assert response.status == 200
    assert event["resource"] == "/"
    assert event["requestContext"]["path"] == f"/{STAGE}/"
    assert event["requestContext"]["identity"]["apiKeyId"] is None


def test_path_parameter_stays_percent_encoded(gateway_api: GatewayApi) -> None:
    event = gateway_api.call("GET", "/items/a%20b%2Fc").event()

    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/a%20b%2Fc"
    assert event["pathParameters"] == {"id": "a%20b%2Fc"}


def test_greedy_proxy_serves_any_method(gateway_api: GatewayApi) -> None:
    get_event = gateway_api.call("GET", "/files/docs/2024/report.pdf").event()
    delete_event = gateway_api.call("DELETE", "/files/old.txt").event()

    assert get_event["resource"] == "/files/{proxy+}"
    assert get_event["pathParameters"] == {"proxy": "docs/2024/report.pdf"}
    assert delete_event["httpMethod"] == "DELETE"
    assert delete_event["pathParameters"] == {"proxy": "old.txt"}


def test_burst_admits_exactly_burst_limit_at_once(gateway_api: GatewayApi) -> None:
    request_count = 10
    barrier = threading.Barrier(request_count, timeout=30)

    def call_after_barrier(_: int) -> Response:
        barrier.wait()
        return gateway_api.call("GET", "/items", key="burst")

    with ThreadPoolExecutor(max_workers=request_count) as pool:
        responses = list(pool.map(call_after_barrier, range(request_count)))
    statuses = Counter(response.status for response in responses)
    throttled = [response for response in responses if response.status == 429]

    assert statuses == {200: 3, 429: 7}
    assert_gateway_error(throttled[0], 429, "Too Many Requests", "TooManyRequestsException")


def test_quota_past_limit_returns_limit_exceeded(gateway_api: GatewayApi) -> None:
    statuses = [gateway_api.call("GET", "/items", key="quota").status for _ in range(2)]
    over_quota = gateway_api.call("GET", "/items", key="quota")

    assert statuses == [200, 200]
    assert_gateway_error(over_quota, 429, "Limit Exceeded", "LimitExceededException")


def test_stage_method_throttle_limits_one_method(gateway_api: GatewayApi) -> None:
    first = gateway_api.call("GET", "/items", stage="throttled")
    second = gateway_api.call("GET", "/items", stage="throttled")
    other_method = gateway_api.call("GET", "/items/7", stage="throttled")

    assert first.status == 200
    assert_gateway_error(second, 429, "Too Many Requests", "TooManyRequestsException")
    assert other_method.status == 200


@pytest.mark.parametrize("path", ["/fail", "/malformed"])
def test_function_failure_returns_502(gateway_api: GatewayApi, path: str) -> None:
    response = gateway_api.call("GET", path)

    assert response.status == 502
    assert response.json() == INTERNAL_ERROR


def test_lambda_throttle_returns_500(gateway_api: GatewayApi) -> None:
    response = gateway_api.call("GET", "/busy")

    assert response.status == 500
    assert response.json() == INTERNAL_ERROR


def test_body_over_payload_quota_returns_413(gateway_api: GatewayApi) -> None:
    body = b"x" * (10 * 1024 * 1024 + 1)

    response = gateway_api.call("POST", "/items", body=body)

    assert response.status == 413
    assert response.body == b"HTTP content length exceeded 10485760 bytes."
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["x-amzn-RequestId"]


def test_event_over_lambda_payload_limit_returns_413(gateway_api: GatewayApi) -> None:
    body = b"x" * (7 * 1024 * 1024)

    response = gateway_api.call(
        "POST", "/items", headers=[("Content-Type", "text/plain")], body=body
    )

    assert_gateway_error(response, 413, "Request Too Long", "BadRequestException")


def test_integration_timeout_returns_504(gateway_api: GatewayApi) -> None:
    response = gateway_api.call("GET", "/slow")

    assert response.status == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_binary_media_type_body_arrives_base64(gateway_api: GatewayApi) -> None:
    payload = b"\x00\x01 plain ascii would still be base64"
    response = gateway_api.call(
        "POST", "/items", headers=[("Content-Type", "application/octet-stream")], body=payload
    )
    event = response.event()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_non_utf8_body_arrives_base64(gateway_api: GatewayApi) -> None:
    payload = b"caf\xe9"
    response = gateway_api.call(
        "POST", "/items", headers=[("Content-Type", "text/plain")], body=payload
    )
    event = response.event()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_utf8_body_arrives_as_text(gateway_api: GatewayApi) -> None:
    payload = '{"living_area_sqft": 1500, "city": "Münster"}'.encode()
    response = gateway_api.call(
        "POST", "/items", headers=[("Content-Type", "application/json")], body=payload
    )
    event = response.event()

    assert event["isBase64Encoded"] is False
    assert event["body"] == payload.decode()


def test_base64_response_decoded_only_for_binary_accept(gateway_api: GatewayApi) -> None:
    binary = gateway_api.call("GET", "/image", headers=[("Accept", "image/png")])
    text = gateway_api.call("GET", "/image", headers=[("Accept", "application/json")])

    assert binary.status == 200
    assert binary.body == PNG_BYTES
    assert binary.headers["Content-Type"] == "image/png"
    assert text.body == base64.b64encode(PNG_BYTES)


def test_new_resource_served_only_after_redeployment(gateway_api: GatewayApi) -> None:
    apigateway = gateway_api.client("apigateway")
    first_deployment = apigateway.get_stage(restApiId=gateway_api.api_id, stageName=STAGE)[
        "deploymentId"
    ]
    apigateway.create_stage(
        restApiId=gateway_api.api_id, stageName="canary", deploymentId=first_deployment
    )
    assert gateway_api.call("GET", "/", key=None, stage="canary").status == 200

    later = apigateway.create_resource(
        restApiId=gateway_api.api_id, parentId=gateway_api.resource_ids["/"], pathPart="later"
    )["id"]
    function_arn = gateway_api.client("lambda").get_function(FunctionName="gateway-echo")[
        "Configuration"
    ]["FunctionArn"]
    add_method(apigateway, gateway_api.api_id, later, "GET", function_arn, api_key_required=False)
    before = gateway_api.call("GET", "/later", key=None, stage="canary")

    second_deployment = apigateway.create_deployment(restApiId=gateway_api.api_id)["id"]
    apigateway.update_stage(
        restApiId=gateway_api.api_id,
        stageName="canary",
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": second_deployment}],
    )
    after = gateway_api.call("GET", "/later", key=None, stage="canary")

    assert before.status == 403
    assert after.status == 200
    assert after.event()["resource"] == "/later"
