"""Request parsing, proxy events and proxy responses, without a running cloud."""

from __future__ import annotations

import base64
import io
import json

import pytest

from infra.localcloud.gateway.deployments import DeploymentSnapshot, StageView
from infra.localcloud.gateway.errors import (
    GatewayConfigurationError,
    RequestTooLongError,
    TooManyRequestsError,
)
from infra.localcloud.gateway.integration import LambdaProxyIntegration
from infra.localcloud.gateway.invoke_url import matches, parse_invoke_target
from infra.localcloud.gateway.media_types import first_accept_type, is_binary
from infra.localcloud.gateway.proxy_event import RequestIds, build_proxy_event
from infra.localcloud.gateway.proxy_response import (
    MalformedProxyResponseError,
    error_response,
    parse_proxy_response,
)
from infra.localcloud.gateway.request import (
    MAX_BODY_BYTES,
    RAW_HEADERS_KEY,
    GatewayRequest,
    parse_query_string,
    read_request,
)
from infra.localcloud.gateway.routes import IntegrationConfig
from tests.gateway.route_support import LAMBDA_URI, build_routes

IDS = RequestIds("req-1", "ext/1AAAAAAAAAA=", "Root=1-00000000-000000000000000000000000")


def proxy_payload(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def environ_for(path: str, query: str = "", **extra: object) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(b""),
        **extra,
    }


def test_response_defaults_status_and_content_type() -> None:
    response = parse_proxy_response(b"{}", binary_response=False)

    assert response.status == 200
    assert response.headers == [("Content-Type", "application/json")]
    assert response.body == b""


def test_response_accepts_text_status_and_boolean_header() -> None:
    payload = proxy_payload(statusCode="201", headers={"X-Cached": False}, body="made")

    response = parse_proxy_response(payload, binary_response=False)

    assert response.status == 201
    assert ("X-Cached", "false") in response.headers
    assert response.body == b"made"


def test_multi_value_headers_replace_same_single_header() -> None:
    payload = proxy_payload(
        headers={"set-cookie": "lost=1", "Content-Type": "text/plain", "Connection": "close"},
        multiValueHeaders={"Set-Cookie": ["a=1", "b=2"]},
    )

    response = parse_proxy_response(payload, binary_response=False)

    assert response.headers == [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "is a list, not an object"),
        (proxy_payload(statusCode=200, extra=1), r"result has fields \['extra'\]"),
        (proxy_payload(body={"a": 1}), "body is a dict"),
        (proxy_payload(headers={"X-Count": 3}), "header X-Count has the value 3"),
        (proxy_payload(headers={"X-Bad": "a\r\nSet-Cookie: x"}), "contains a line break"),
        (proxy_payload(statusCode=700), "statusCode 700 is not between 100 and 599"),
        (proxy_payload(statusCode="abc"), "statusCode 'abc' is not an integer"),
        (proxy_payload(statusCode=True), "statusCode True is not an integer"),
        (proxy_payload(body="x", isBase64Encoded="yes"), "isBase64Encoded 'yes'"),
    ],
)
def test_malformed_response_rejected(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedProxyResponseError, match=message):
        parse_proxy_response(payload, binary_response=False)


def test_base64_body_decoded_only_for_binary_response() -> None:
    payload = proxy_payload(body=base64.b64encode(b"\x00\xff").decode(), isBase64Encoded=True)

    binary = parse_proxy_response(payload, binary_response=True)
    text = parse_proxy_response(payload, binary_response=False)

    assert binary.body == b"\x00\xff"
    assert text.body == b"AP8="


def test_invalid_base64_body_rejected_for_binary_response() -> None:
    payload = proxy_payload(body="***", isBase64Encoded=True)

    with pytest.raises(MalformedProxyResponseError, match="not valid base64"):
        parse_proxy_response(payload, binary_response=True)


def test_error_response_names_error_type() -> None:
    response = error_response(TooManyRequestsError("key k1 over its throttle"))

    assert response.status == 429
    assert json.loads(response.body) == {"message": "Too Many Requests"}
    assert ("x-amzn-ErrorType", "TooManyRequestsException") in response.headers
    assert b"k1" not in response.body


def test_error_response_sends_plain_text_when_aws_does() -> None:
    response = error_response(RequestTooLongError("body of 11 MB"))

    assert response.status == 413
    assert response.body == b"HTTP content length exceeded 10485760 bytes."
    assert ("Content-Type", "text/plain; charset=utf-8") in response.headers
    assert not any(name == "x-amzn-ErrorType" for name, _ in response.headers)


@pytest.mark.parametrize("terminated", [False, True])
def test_body_at_payload_quota_is_read_whole(terminated: bool) -> None:
    body = b"x" * MAX_BODY_BYTES
    environ = _post_environ(body, terminated)
    target = parse_invoke_target(environ)
    assert target is not None

    request = read_request(environ, target)

    assert request.body == body


@pytest.mark.parametrize("terminated", [False, True])
def test_body_over_payload_quota_is_drained_and_rejected(terminated: bool) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    environ = _post_environ(body, terminated)
    target = parse_invoke_target(environ)
    assert target is not None

    with pytest.raises(RequestTooLongError, match=f"{MAX_BODY_BYTES + 1} bytes"):
        read_request(environ, target)
    assert environ["wsgi.input"].read() == b""


def _post_environ(body: bytes, terminated: bool) -> dict:
    """Return a POST environ with a Content-Length, or a terminated stream as for chunked."""
    extra: dict[str, object] = {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body)}
    if terminated:
        extra["wsgi.input_terminated"] = True
    else:
        extra["CONTENT_LENGTH"] = str(len(body))
    return environ_for("/restapis/a1/dev/_user_request_/items", **extra)


def test_query_string_split_into_last_and_all_values() -> None:
    single, multiple = parse_query_string("a=1&a=2&b&c=x%20y%26z&d=1+2&&")

    assert single == {"a": "2", "b": "", "c": "x y&z", "d": "1+2"}
    assert multiple == {"a": ["1", "2"], "b": [""], "c": ["x y&z"], "d": ["1+2"]}


@pytest.mark.parametrize(
    ("media_type", "patterns", "expected"),
    [
        ("image/png", ("image/png",), True),
        ("Image/PNG; q=1", ("image/png",), True),
        ("image/jpeg", ("image/*",), True),
        ("text/plain", ("*/*",), True),
        ("text/plain", ("image/*", "application/octet-stream"), False),
        (None, ("*/*",), False),
        ("image/png", (), False),
    ],
)
def test_binary_media_type_patterns(
    media_type: str | None, patterns: tuple[str, ...], expected: bool
) -> None:
    assert is_binary(media_type, patterns) is expected


def test_first_accept_type_decides_binary() -> None:
    assert first_accept_type("image/png, application/json;q=0.9") == "image/png"
    assert first_accept_type(None) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/restapis/a1/dev/_user_request_/items", True),
        ("/restapis/a1/dev/_user_request_", True),
        ("/restapis/a1/dev/_user_request_/", True),
        ("/restapis/a1/stages/dev", False),
        ("/restapis/a1/resources/r1/methods/GET", False),
        ("/_mhpe/health", False),
    ],
)
def test_matches_only_invoke_urls(path: str, expected: bool) -> None:
    assert matches(path) is expected


def test_invoke_target_keeps_encoded_slash_from_raw_uri() -> None:
    environ = environ_for(
        "/restapis/a1/dev/_user_request_/items/a/b",
        RAW_URI="/restapis/a1/dev/_user_request_/items/a%2Fb?x=1",
    )

    target = parse_invoke_target(environ)

    assert target is not None
    assert (target.api_id, target.stage, target.path) == ("a1", "dev", "/items/a%2Fb")


def test_invoke_target_without_path_is_root() -> None:
    target = parse_invoke_target(environ_for("/restapis/a1/dev/_user_request_"))

    assert target is not None
    assert target.path == "/"


def test_request_headers_rebuilt_without_raw_headers() -> None:
    environ = environ_for(
        "/restapis/a1/dev/_user_request_/items",
        HTTP_X_API_KEY="secret",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH="2",
        **{"wsgi.input": io.BytesIO(b"{}")},
    )
    target = parse_invoke_target(environ)
    assert target is not None

    request = read_request(environ, target)

    assert ("X-Api-Key", "secret") in request.headers
    assert ("Content-Type", "application/json") in request.headers
    assert request.header("x-api-key") == "secret"
    assert request.body == b"{}"


def test_proxy_event_adds_forwarding_headers() -> None:
    routes = build_routes({"/items": ["POST"]})
    match = routes.match("POST", "/items")
    assert match is not None
    snapshot = DeploymentSnapshot("api1", "dep1", routes, (), "HEADER", None)
    view = StageView(snapshot, "dev", {}, {})
    request = GatewayRequest(
        method="POST",
        path="/items",
        query_string="",
        headers=[
            ("Host", "127.0.0.1:4566"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("Connection", "keep-alive"),
            ("Content-Length", "2"),
            ("content-type", "application/json"),
            ("Content-Type", "text/plain"),
        ],
        body=b"hi",
        source_ip="127.0.0.1",
        protocol="HTTP/1.1",
    )

    event = build_proxy_event(request, view, match, IDS, None, "4566", 0.0)

    assert event["headers"]["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    assert event["headers"]["X-Forwarded-Port"] == "4566"
    assert event["headers"]["X-Amzn-Trace-Id"] == IDS.trace_id
    assert "Connection" not in event["headers"]
    assert "Content-Length" not in event["headers"]
    assert event["multiValueHeaders"]["content-type"] == ["application/json", "text/plain"]
    assert event["body"] == "hi"
    assert event["stageVariables"] is None
    assert event["requestContext"]["requestTime"] == "01/Jan/1970:00:00:00 +0000"
    assert event["requestContext"]["domainName"] == "127.0.0.1:4566"


def test_integration_uri_resolves_stage_variables() -> None:
    uri = LAMBDA_URI.replace("function:unit", "function:${stageVariables.fn}")
    integration = IntegrationConfig("AWS_PROXY", uri, "POST", 29_000)

    function = LambdaProxyIntegration.function_name(integration, {"fn": "serve-dev"})

    assert function == "arn:aws:lambda:us-east-1:123456789012:function:serve-dev"


@pytest.mark.parametrize(
    ("integration", "message"),
    [
        (IntegrationConfig("HTTP_PROXY", "http://x", "GET", 29_000), "HTTP_PROXY is not supported"),
        (IntegrationConfig("AWS_PROXY", LAMBDA_URI, "GET", 29_000), "httpMethod GET is invalid"),
        (IntegrationConfig("AWS_PROXY", "arn:aws:s3:::x", "POST", 29_000), "not a Lambda"),
    ],
)
def test_integration_rejects_unsupported_configuration(
    integration: IntegrationConfig, message: str
) -> None:
    with pytest.raises(GatewayConfigurationError, match=message):
        LambdaProxyIntegration.function_name(integration, {})


def test_raw_headers_key_preferred_over_environ() -> None:
    environ = environ_for(
        "/restapis/a1/dev/_user_request_/items",
        HTTP_X_MULTI="1,2",
        **{RAW_HEADERS_KEY: [("x-multi", "1"), ("x-multi", "2")]},
    )
    target = parse_invoke_target(environ)
    assert target is not None

    request = read_request(environ, target)

    assert request.headers == [("x-multi", "1"), ("x-multi", "2")]
