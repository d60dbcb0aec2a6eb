"""The WSGI app of API Gateway's data plane: REST API invoke URLs to Lambda proxy integrations.

Each request goes through the steps of API Gateway in order: the stage's deployment, the
resource and method, the API key, the usage plan throttle, the stage throttle, the quota,
and then the integration. A step that rejects the request raises a GatewayError, which
becomes API Gateway's JSON error response.
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from infra.localcloud.config import ACCOUNT_ID, REGION
from infra.localcloud.gateway.api_keys import API_KEY_HEADER, ApiKeyValidator, ClientKey
from infra.localcloud.gateway.deployments import DeploymentCache, StageView
from infra.localcloud.gateway.errors import (
    BadGatewayError,
    ForbiddenError,
    GatewayConfigurationError,
    GatewayError,
    MissingAuthenticationTokenError,
)
from infra.localcloud.gateway.integration import LambdaProxyIntegration
from infra.localcloud.gateway.invoke_url import InvokeTarget, parse_invoke_target
from infra.localcloud.gateway.limits import StageThrottle, UsagePlanQuota, UsagePlanThrottle
from infra.localcloud.gateway.media_types import first_accept_type, is_binary
from infra.localcloud.gateway.proxy_event import RequestIds, build_proxy_event
from infra.localcloud.gateway.proxy_response import (
    HttpResponse,
    MalformedProxyResponseError,
    error_response,
    parse_proxy_response,
)
from infra.localcloud.gateway.quotas import QuotaLedger
from infra.localcloud.gateway.request import GatewayRequest, read_request
from infra.localcloud.gateway.throttling import BucketRegistry

logger = logging.getLogger(__name__)

# Response headers that the gateway sets. A function's own values for them are dropped.
GATEWAY_HEADERS = frozenset({"x-amzn-requestid", "x-amz-apigw-id", "x-amzn-trace-id"})
# Unmatched routes (403) and throttled requests (429) are normal under load, so they are
# logged at DEBUG. Rejected API keys are logged at INFO and failed integrations at WARNING.
QUIET_STATUSES = frozenset({403, 429})


class GatewayApp:
    """WSGI app for /restapis/{api_id}/{stage}/_user_request_/{path} on the local cloud.

    `cloud` is the LocalCloud whose runtime runs the functions. `backend` is moto's API
    Gateway backend, by default the one of the local cloud's account and region.
    """

    def __init__(self, cloud: Any, backend: Any = None) -> None:
        if backend is None:
            from moto.apigateway.models import apigateway_backends

            backend = apigateway_backends[ACCOUNT_ID][REGION]
        buckets = BucketRegistry()
        self._deployments = DeploymentCache(backend)
        self._api_keys = ApiKeyValidator(backend)
        self._usage_plan_throttle = UsagePlanThrottle(buckets)
        self._stage_throttle = StageThrottle(buckets)
        self._quota = UsagePlanQuota(QuotaLedger())
        self._integration = LambdaProxyIntegration(cloud)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request_time_s = time.time()
        ids = _new_request_ids(request_time_s)
        target = parse_invoke_target(environ)
        try:
            if target is None:
                raise MissingAuthenticationTokenError(
                    f"path {environ.get('PATH_INFO')} is not an invoke URL"
                )
            response = self._handle(environ, target, ids, request_time_s)
        except GatewayError as error:
            _log_rejection(error, environ, target, ids)
            response = error_response(error)
        except Exception:
            logger.exception(
                "request %s %s %s failed unexpectedly",
                ids.request_id,
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            response = error_response(GatewayError("unexpected error"))
        return _send(start_response, response, ids)

    def _handle(
        self,
        environ: dict[str, Any],
        target: InvokeTarget,
        ids: RequestIds,
        request_time_s: float,
    ) -> HttpResponse:
        request = read_request(environ, target)
        view = self._deployments.stage_view(target.api_id, target.stage)
        match = view.snapshot.routes.match(request.method, request.path)
        if match is None:
            raise MissingAuthenticationTokenError(
                f"no method {request.method} on a resource matching {request.path} in "
                f"deployment {view.snapshot.deployment_id}"
            )
        route = match.route

        client: ClientKey | None = None
        if route.api_key_required:
            client = self._api_keys.validate(target.api_id, target.stage, _api_key(request, view))
            self._usage_plan_throttle.admit(client, view, route)
        self._stage_throttle.admit(view, route)
        if client is not None:
            self._quota.admit(client)

        if route.integration is None:
            raise GatewayConfigurationError(
                f"method {route.http_method} {route.resource_path} has no integration"
            )
        event = build_proxy_event(
            request, view, match, ids, client, environ.get("SERVER_PORT", ""), request_time_s
        )
        payload = self._integration.invoke(route.integration, event, view.variables)
        accept = first_accept_type(request.header("Accept"))
        try:
            return parse_proxy_response(
                payload, is_binary(accept, view.snapshot.binary_media_types)
            )
        except MalformedProxyResponseError as error:
            raise BadGatewayError(
                f"malformed Lambda proxy response for {route.http_method} "
                f"{route.resource_path}: {error}"
            ) from None


def _api_key(request: GatewayRequest, view: StageView) -> str | None:
    if view.snapshot.api_key_source != "HEADER":
        # NOTE: keys from a Lambda authorizer (apiKeySource AUTHORIZER) need authorizers,
        # which the local cloud does not run, so such methods always return 403.
        raise ForbiddenError(
            f"apiKeySource {view.snapshot.api_key_source} of API {view.snapshot.api_id} is "
            "not supported locally; use HEADER"
        )
    return request.header(API_KEY_HEADER)


def _new_request_ids(request_time_s: float) -> RequestIds:
    return RequestIds(
        request_id=str(uuid.uuid4()),
        # API Gateway's extended ids are 16 base64 characters, e.g. "LgtKxEDiIAMF8wA=".
        extended_request_id=base64.b64encode(secrets.token_bytes(11)).decode("ascii"),
        trace_id=f"Root=1-{int(request_time_s):08x}-{secrets.token_hex(12)}",
    )


def _send(
    start_response: Callable[..., Any], response: HttpResponse, ids: RequestIds
) -> list[bytes]:
    headers = [
        (name, value) for name, value in response.headers if name.lower() not in GATEWAY_HEADERS
    ]
    headers += [
        ("Content-Length", str(len(response.body))),
        ("x-amzn-RequestId", ids.request_id),
        ("x-amz-apigw-id", ids.extended_request_id),
        ("X-Amzn-Trace-Id", ids.trace_id),
    ]
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    start_response(f"{response.status} {reason}", headers)
    return [response.body]


def _log_rejection(
    error: GatewayError, environ: dict[str, Any], target: InvokeTarget | None, ids: RequestIds
) -> None:
    where = f"API {target.api_id} stage {target.stage}" if target else "no API"
    if isinstance(error, ForbiddenError):
        level = logging.INFO
    elif error.status in QUIET_STATUSES:
        level = logging.DEBUG
    else:
        level = logging.WARNING
    logger.log(
        level,
        "request %s %s %s (%s): %d %s: %s",
        ids.request_id,
        environ.get("REQUEST_METHOD"),
        target.path if target else environ.get("PATH_INFO"),
        where,
        error.status,
        error.message,
        error.reason,
    )
