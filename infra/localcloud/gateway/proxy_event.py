"""The event that a Lambda proxy integration of a REST API (payload format 1.0) sends."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from infra.localcloud.config import ACCOUNT_ID
from infra.localcloud.gateway.api_keys import ClientKey
from infra.localcloud.gateway.deployments import StageView
from infra.localcloud.gateway.media_types import is_binary
from infra.localcloud.gateway.request import GatewayRequest, parse_query_string
from infra.localcloud.gateway.routes import RouteMatch

# Headers left out of the proxy event. AWS does not document the list, so this follows
# LocalStack's REST API implementation (next_gen/execute_api/integrations/aws.py).
DROPPED_HEADERS = frozenset({"connection", "content-length"})
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
IDENTITY_FIELDS = (
    "cognitoIdentityPoolId",
    "accountId",
    "cognitoIdentityId",
    "caller",
    "principalOrgId",
    "accessKey",
    "cognitoAuthenticationType",
    "cognitoAuthenticationProvider",
    "userArn",
    "user",
)


@dataclass(frozen=True)
class RequestIds:
    """The ids of one request: `request_id` (a UUID), the extended id, and the trace header."""

    request_id: str
    extended_request_id: str
    trace_id: str


def build_proxy_event(
    request: GatewayRequest,
    view: StageView,
    match: RouteMatch,
    ids: RequestIds,
    client: ClientKey | None,
    server_port: str,
    request_time_s: float,
) -> dict[str, Any]:
    """Build the proxy event. `request_time_s` is the request's arrival in epoch seconds."""
    headers, multi_value_headers = _event_headers(request, ids, server_port)
    query, multi_value_query = parse_query_string(request.query_string)
    body, is_base64 = _event_body(request, view.snapshot.binary_media_types)
    route = match.route
    return {
        "resource": route.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_value_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_value_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": view.variables or None,
        "requestContext": _request_context(request, view, match, ids, client, request_time_s),
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _event_headers(
    request: GatewayRequest, ids: RequestIds, server_port: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Return the last value and all values of each header, with the headers AWS adds."""
    forwarded_for = request.header("X-Forwarded-For")
    added = [
        ("X-Amzn-Trace-Id", ids.trace_id),
        (
            "X-Forwarded-For",
            f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip,
        ),
        ("X-Forwarded-Port", server_port),
        ("X-Forwarded-Proto", "http"),
    ]
    skipped = DROPPED_HEADERS | {name.lower() for name, _ in added}
    sent = [(name, value) for name, value in request.headers if name.lower() not in skipped]

    single: dict[str, str] = {}
    multiple: dict[str, list[str]] = {}
    # A header sent in two spellings is one header, under the first spelling.
    spelling: dict[str, str] = {}
    for name, value in [*sent, *added]:
        name = spelling.setdefault(name.lower(), name)
        single[name] = value
        multiple.setdefault(name, []).append(value)
    return single, multiple


def _event_body(
    request: GatewayRequest, binary_media_types: tuple[str, ...]
) -> tuple[str | None, bool]:
    """Return the body as text, or base64 for a binary media type or bytes that are not UTF-8."""
    if not request.body:
        return None, False
    if not is_binary(request.header("Content-Type"), binary_media_types):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _request_context(
    request: GatewayRequest,
    view: StageView,
    match: RouteMatch,
    ids: RequestIds,
    client: ClientKey | None,
    request_time_s: float,
) -> dict[str, Any]:
    route = match.route
    api_id = view.snapshot.api_id
    domain_name = request.header("Host") or "127.0.0.1"
    identity: dict[str, Any] = dict.fromkeys(IDENTITY_FIELDS)
    identity.update(
        {
            "sourceIp": request.source_ip,
            "userAgent": request.header("User-Agent"),
            "apiKey": client.value if client else None,
            "apiKeyId": client.key_id if client else None,
        }
    )
    return {
        "resourceId": route.resource_id,
        "resourcePath": route.resource_path,
        "httpMethod": request.method,
        "extendedRequestId": ids.extended_request_id,
        "requestTime": _request_time(request_time_s),
        "path": f"/{view.stage_name}{request.path}",
        "accountId": ACCOUNT_ID,
        "protocol": request.protocol,
        "stage": view.stage_name,
        "domainPrefix": domain_name.split(":", 1)[0].split(".", 1)[0],
        "requestTimeEpoch": int(request_time_s * 1000),
        "requestId": ids.request_id,
        "identity": identity,
        "domainName": domain_name,
        "apiId": api_id,
    }


def _request_time(epoch_s: float) -> str:
    """Format a time as API Gateway's requestTime, e.g. 09/Apr/2015:12:34:56 +0000."""
    moment = time.gmtime(epoch_s)
    return (
        f"{moment.tm_mday:02d}/{MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"
    )
